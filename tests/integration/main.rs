//! Integration tests: the real server over HTTP, a real database and a real Redis, with a fake
//! WeChat server on loopback.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod audit;
mod care;
mod costs;
mod crash;
mod fake_wechat;
mod helpers;
mod http;
mod identity;
mod live;
mod moderation;
mod notify;
mod orders;
mod org;
mod points;
mod schema;
mod seed;
mod store;
mod uploads;
mod wishes;

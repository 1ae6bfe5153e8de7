//! 帮办代办 errands: 群众点单 -> 管家接单 -> 物业派单 -> 群众评单, and the catalogue they come from.

pub mod catalog;

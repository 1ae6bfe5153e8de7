//! Wishes and errands in every state with their event trails, and the ledger entries they earn.

use super::*;

pub(super) struct WishStep {
    pub(super) action: WishAction,
    pub(super) from: Option<WishStatus>,
    pub(super) to: WishStatus,
    pub(super) actor: i64,
    pub(super) at: DateTime<Utc>,
    pub(super) note: Option<&'static str>,
}

pub(super) struct PlannedWish {
    pub(super) poster: i64,
    pub(super) area: i64,
    pub(super) category: &'static str,
    pub(super) title: &'static str,
    pub(super) description: String,
    pub(super) status: WishStatus,
    pub(super) claimant: Option<i64>,
    pub(super) steps: Vec<WishStep>,
}

/// One step of a workflow before it is laid out in time: action, from, to, actor, seconds after
/// the previous step, note.
pub(super) type Link<A, S> = (A, Option<S>, S, i64, i64, Option<&'static str>);

/// Lays a chain of steps out in time so that it ends before `as_of`: the delays between steps
/// are drawn first, then how long before `as_of` (at most `max_age`) the chain began.
pub(super) fn lay_out(
    rng: &mut ChaCha8Rng,
    delays: &[i64],
    max_age: i64,
    as_of: DateTime<Utc>,
) -> Vec<DateTime<Utc>> {
    let span: i64 = delays.iter().sum();
    let start = as_of - seconds(span + rng.random_range(60..max_age.max(61)));
    let mut at = start;
    let mut times = vec![start];
    for delay in delays {
        at += seconds(*delay);
        times.push(at);
    }
    times
}

pub(super) fn plan_wish(
    rng: &mut ChaCha8Rng,
    d: &District,
    p: &People,
    pools: &Pools,
    as_of: DateTime<Utc>,
) -> PlannedWish {
    use WishAction as A;
    use WishStatus as S;
    let poster = &p.residents[rng.random_range(0..p.residents.len())];
    let community = d.community_of(poster.home);
    let (category, titles) = WISH_TITLES[rng.random_range(0..WISH_TITLES.len())];
    let title = titles.choose(rng).copied().unwrap_or("帮帮忙");
    let description = format!(
        "{title}。{}",
        WISH_DETAILS.choose(rng).copied().unwrap_or_default()
    );
    let status = match rng.random_range(0..100) {
        0..14 => S::Open,
        14..24 => S::Claimed,
        24..32 => S::Fulfilled,
        32..93 => S::Confirmed,
        _ => S::Cancelled,
    };
    let claimant = match status {
        S::Open | S::Cancelled => None,
        _ => pools.claimant(community, None, rng),
    };
    // Some wishes were claimed once and given back before (or instead of) being taken on.
    let released_by = if status != S::Cancelled && rng.random_bool(0.06) {
        pools.claimant(community, claimant, rng)
    } else {
        None
    };

    let mut chain: Vec<Link<A, S>> = vec![(A::Posted, None, S::Open, poster.user, 0, None)];
    if let Some(first) = released_by {
        chain.push((
            A::Claimed,
            Some(S::Open),
            S::Claimed,
            first,
            rng.random_range(600..72 * HOUR),
            None,
        ));
        let note = rng
            .random_bool(0.5)
            .then(|| RELEASE_NOTES.choose(rng).copied())
            .flatten();
        chain.push((
            A::Released,
            Some(S::Claimed),
            S::Open,
            first,
            rng.random_range(HOUR..48 * HOUR),
            note,
        ));
    }
    if let Some(claimant) = claimant {
        chain.push((
            A::Claimed,
            Some(S::Open),
            S::Claimed,
            claimant,
            rng.random_range(600..72 * HOUR),
            None,
        ));
        if matches!(status, S::Fulfilled | S::Confirmed) {
            let note = rng
                .random_bool(0.6)
                .then(|| FULFIL_NOTES.choose(rng).copied())
                .flatten();
            chain.push((
                A::Fulfilled,
                Some(S::Claimed),
                S::Fulfilled,
                claimant,
                rng.random_range(2 * HOUR..120 * HOUR),
                note,
            ));
        }
        if status == S::Confirmed {
            chain.push((
                A::Confirmed,
                Some(S::Fulfilled),
                S::Confirmed,
                poster.user,
                rng.random_range(600..48 * HOUR),
                None,
            ));
        }
    }
    if status == S::Cancelled {
        chain.push((
            A::Cancelled,
            Some(S::Open),
            S::Cancelled,
            poster.user,
            rng.random_range(HOUR..96 * HOUR),
            None,
        ));
    }
    let max_age = match status {
        S::Open | S::Claimed | S::Fulfilled => 45 * DAY,
        _ => 365 * DAY,
    };
    let delays: Vec<i64> = chain.iter().skip(1).map(|c| c.4).collect();
    let times = lay_out(rng, &delays, max_age, as_of);
    let steps = chain
        .into_iter()
        .zip(times)
        .map(|((action, from, to, actor, _, note), at)| WishStep {
            action,
            from,
            to,
            actor,
            at,
            note,
        })
        .collect();
    PlannedWish {
        poster: poster.user,
        area: d.buildings[poster.home].id,
        category,
        title,
        description,
        status,
        claimant,
        steps,
    }
}

#[allow(clippy::too_many_arguments)]
pub(super) async fn insert_wishes(
    txn: &impl ConnectionTrait,
    shape: &Shape,
    d: &District,
    p: &People,
    pools: &Pools,
    ids: &mut Ids,
    as_of: DateTime<Utc>,
    points: i32,
    ledger: &mut Vec<Entry>,
) -> anyhow::Result<(u64, u64)> {
    let mut rng = rng(5);
    if p.residents.is_empty() {
        return Ok((0, 0));
    }
    let mut planned: Vec<PlannedWish> = (0..shape.wishes)
        .map(|_| plan_wish(&mut rng, d, p, pools, as_of))
        .collect();
    // Ids follow time, as they do when the API writes the rows.
    planned.sort_by_key(|w| w.steps.first().map(|s| s.at));

    use wish::Column as C;
    let mut bulk = Bulk::new(
        txn,
        wish::Entity,
        [
            C::Id,
            C::PosterId,
            C::AreaId,
            C::Title,
            C::Description,
            C::Category,
            C::Status,
            C::ClaimantId,
            C::NeedsReview,
            C::CreatedAt,
            C::UpdatedAt,
        ],
    );
    let mut events: Vec<(DateTime<Utc>, i64, usize)> = Vec::new();
    let mut wish_ids = Vec::with_capacity(planned.len());
    for (i, w) in planned.iter().enumerate() {
        let id = take(&mut ids.wish);
        wish_ids.push(id);
        let created = w.steps.first().map(|s| s.at).unwrap_or(as_of);
        let updated = w.steps.last().map(|s| s.at).unwrap_or(created);
        bulk.push(vec![
            id.into(),
            w.poster.into(),
            w.area.into(),
            w.title.into(),
            w.description.as_str().into(),
            w.category.into(),
            w.status.to_value().into(),
            w.claimant.into(),
            false.into(),
            created.into(),
            updated.into(),
        ])
        .await?;
        for (s, step) in w.steps.iter().enumerate() {
            events.push((step.at, id, i * 8 + s));
            if step.action == WishAction::Confirmed
                && points != 0
                && let Some(claimant) = w.claimant
            {
                ledger.push(Entry {
                    user: claimant,
                    delta: points,
                    reason: format!("微心愿「{}」", w.title),
                    action: PointAction::WishFulfilled,
                    source_key: format!("wish:{id}:confirm"),
                    actor: step.actor,
                    at: step.at,
                });
            }
        }
    }
    let wishes = bulk.finish().await?;

    events.sort_unstable();
    use wish_event::Column as E;
    let mut bulk = Bulk::new(
        txn,
        wish_event::Entity,
        [
            E::Id,
            E::WishId,
            E::ActorId,
            E::Action,
            E::FromStatus,
            E::ToStatus,
            E::Note,
            E::CreatedAt,
        ],
    );
    for (at, wish_id, key) in events {
        let step = &planned[key / 8].steps[key % 8];
        bulk.push(vec![
            take(&mut ids.wish_event).into(),
            wish_id.into(),
            step.actor.into(),
            step.action.to_value().into(),
            step.from.map(|s| s.to_value()).into(),
            step.to.to_value().into(),
            step.note.map(str::to_owned).into(),
            at.into(),
        ])
        .await?;
    }
    Ok((wishes, bulk.finish().await?))
}

// ---------------------------------------------------------------------------------------------
// Errands

pub(super) struct OrderStep {
    pub(super) action: OrderAction,
    pub(super) from: Option<OrderStatus>,
    pub(super) to: OrderStatus,
    pub(super) actor: i64,
    pub(super) at: DateTime<Utc>,
    pub(super) note: Option<&'static str>,
}

pub(super) struct PlannedOrder {
    pub(super) resident: i64,
    pub(super) item: i64,
    pub(super) area: i64,
    pub(super) description: String,
    pub(super) phone: String,
    pub(super) status: OrderStatus,
    pub(super) steward: Option<i64>,
    pub(super) assignee: Option<i64>,
    /// The assignee is a volunteer, who earns points for a rated errand (property staff are paid).
    pub(super) volunteer: bool,
    pub(super) reject_reason: Option<&'static str>,
    pub(super) stars: Option<i32>,
    pub(super) comment: Option<&'static str>,
    pub(super) steps: Vec<OrderStep>,
}

pub(super) fn plan_order(
    rng: &mut ChaCha8Rng,
    d: &District,
    p: &People,
    pools: &Pools,
    items: &Catalogue,
    as_of: DateTime<Utc>,
) -> PlannedOrder {
    use OrderAction as A;
    use OrderStatus as S;
    let resident = &p.residents[rng.random_range(0..p.residents.len())];
    let building = &d.buildings[resident.home];
    let compound = &d.compounds[building.compound];
    let community = compound.community;
    let street = d.communities[community].street;
    let offered: Vec<i64> = items
        .district
        .iter()
        .chain(items.per_street.get(street).into_iter().flatten())
        .copied()
        .collect();
    let item = offered.choose(rng).copied().unwrap_or_default();
    let description = ORDER_DETAILS
        .choose(rng)
        .copied()
        .unwrap_or("麻烦尽快处理")
        .to_owned();
    let phone = format!(
        "1{}{:09}",
        ["3", "5", "7", "8", "9"][rng.random_range(0..5)],
        rng.random_range(0..1_000_000_000u64)
    );
    let status = match rng.random_range(0..100) {
        0..6 => S::Placed,
        6..11 => S::Accepted,
        11..17 => S::Dispatched,
        17..25 => S::Completed,
        25..83 => S::Rated,
        83..92 => S::Cancelled,
        _ => S::Rejected,
    };
    let handler = if rng.random_bool(0.8) {
        compound.steward
    } else {
        d.grids[building.grid].worker
    };
    let cancelled_after_accept = status == S::Cancelled && rng.random_bool(0.5);
    let accepted = matches!(
        status,
        S::Accepted | S::Dispatched | S::Completed | S::Rated
    ) || cancelled_after_accept;
    let dispatched = matches!(status, S::Dispatched | S::Completed | S::Rated);
    let volunteer_pick = pools.volunteers[community].choose(rng).copied();
    let (assignee, volunteer) = match volunteer_pick {
        Some(v) if dispatched && rng.random_bool(0.4) => (Some(v), true),
        _ if dispatched => (Some(compound.property), false),
        _ => (None, false),
    };

    let mut chain: Vec<Link<A, S>> = vec![(A::Placed, None, S::Placed, resident.user, 0, None)];
    let mut reject_reason = None;
    let mut stars = None;
    let mut comment = None;
    if status == S::Rejected {
        reject_reason = REJECT_REASONS.choose(rng).copied();
        chain.push((
            A::Rejected,
            Some(S::Placed),
            S::Rejected,
            handler,
            rng.random_range(600..24 * HOUR),
            reject_reason,
        ));
    }
    if accepted {
        chain.push((
            A::Accepted,
            Some(S::Placed),
            S::Accepted,
            handler,
            rng.random_range(600..24 * HOUR),
            None,
        ));
    }
    if status == S::Cancelled {
        let from = if cancelled_after_accept {
            S::Accepted
        } else {
            S::Placed
        };
        chain.push((
            A::Cancelled,
            Some(from),
            S::Cancelled,
            resident.user,
            rng.random_range(600..48 * HOUR),
            None,
        ));
    }
    if let Some(assignee) = assignee {
        chain.push((
            A::Dispatched,
            Some(S::Accepted),
            S::Dispatched,
            handler,
            rng.random_range(600..24 * HOUR),
            None,
        ));
        if matches!(status, S::Completed | S::Rated) {
            let note = rng
                .random_bool(0.5)
                .then(|| COMPLETE_NOTES.choose(rng).copied())
                .flatten();
            chain.push((
                A::Completed,
                Some(S::Dispatched),
                S::Completed,
                assignee,
                rng.random_range(HOUR..72 * HOUR),
                note,
            ));
        }
        if status == S::Rated {
            stars = Some(match rng.random_range(0..100) {
                0..3 => 2,
                3..12 => 3,
                12..40 => 4,
                _ => 5,
            });
            comment = rng
                .random_bool(0.5)
                .then(|| RATING_COMMENTS.choose(rng).copied())
                .flatten();
            chain.push((
                A::Rated,
                Some(S::Completed),
                S::Rated,
                resident.user,
                rng.random_range(HOUR..72 * HOUR),
                comment,
            ));
        }
    }
    let max_age = match status {
        S::Placed | S::Accepted | S::Dispatched | S::Completed => 14 * DAY,
        _ => 365 * DAY,
    };
    let delays: Vec<i64> = chain.iter().skip(1).map(|c| c.4).collect();
    let times = lay_out(rng, &delays, max_age, as_of);
    PlannedOrder {
        resident: resident.user,
        item,
        area: building.id,
        description,
        phone,
        status,
        steward: accepted.then_some(handler),
        assignee,
        volunteer,
        reject_reason,
        stars,
        comment,
        steps: chain
            .into_iter()
            .zip(times)
            .map(|((action, from, to, actor, _, note), at)| OrderStep {
                action,
                from,
                to,
                actor,
                at,
                note,
            })
            .collect(),
    }
}

/// A nonce that depends only on what is sealed, so equal runs give equal rows and one nonce
/// never seals two different texts.
pub(super) fn nonce_for(order_id: i64, phone: &str) -> [u8; NONCE_LEN] {
    let digest = Sha256::digest(format!("emulin-seed:contact_phone:{order_id}:{phone}"));
    let mut nonce = [0u8; NONCE_LEN];
    nonce.copy_from_slice(&digest[..NONCE_LEN]);
    nonce
}

#[allow(clippy::too_many_arguments)]
pub(super) async fn insert_orders(
    txn: &impl ConnectionTrait,
    shape: &Shape,
    d: &District,
    p: &People,
    pools: &Pools,
    items: &Catalogue,
    ids: &mut Ids,
    as_of: DateTime<Utc>,
    cipher: &FieldCipher,
    points: i32,
    ledger: &mut Vec<Entry>,
) -> anyhow::Result<(u64, u64)> {
    let mut rng = rng(6);
    if p.residents.is_empty() {
        return Ok((0, 0));
    }
    let mut planned: Vec<PlannedOrder> = (0..shape.orders)
        .map(|_| plan_order(&mut rng, d, p, pools, items, as_of))
        .collect();
    planned.sort_by_key(|o| o.steps.first().map(|s| s.at));

    use service_order::Column as C;
    let mut bulk = Bulk::new(
        txn,
        service_order::Entity,
        [
            C::Id,
            C::ResidentId,
            C::ServiceItemId,
            C::AreaId,
            C::Description,
            C::ContactPhone,
            C::ContactPhoneMasked,
            C::Status,
            C::StewardId,
            C::AssigneeId,
            C::RejectReason,
            C::RatingStars,
            C::RatingComment,
            C::NeedsReview,
            C::CreatedAt,
            C::UpdatedAt,
        ],
    );
    let mut events: Vec<(DateTime<Utc>, i64, usize)> = Vec::new();
    for (i, o) in planned.iter().enumerate() {
        let id = take(&mut ids.service_order);
        let created = o.steps.first().map(|s| s.at).unwrap_or(as_of);
        let updated = o.steps.last().map(|s| s.at).unwrap_or(created);
        let sealed = cipher
            .encrypt_with_nonce(&o.phone, nonce_for(id, &o.phone))
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        bulk.push(vec![
            id.into(),
            o.resident.into(),
            o.item.into(),
            o.area.into(),
            o.description.as_str().into(),
            sealed.into(),
            entity::context::mask_phone(&o.phone).into(),
            o.status.to_value().into(),
            o.steward.into(),
            o.assignee.into(),
            o.reject_reason.map(str::to_owned).into(),
            o.stars.into(),
            o.comment.map(str::to_owned).into(),
            false.into(),
            created.into(),
            updated.into(),
        ])
        .await?;
        for (s, step) in o.steps.iter().enumerate() {
            events.push((step.at, id, i * 8 + s));
            if step.action == OrderAction::Rated
                && o.volunteer
                && points != 0
                && let Some(assignee) = o.assignee
            {
                ledger.push(Entry {
                    user: assignee,
                    delta: points,
                    reason: "帮办代办评单".to_owned(),
                    action: PointAction::OrderCompleted,
                    source_key: format!("order:{id}:rated"),
                    actor: step.actor,
                    at: step.at,
                });
            }
        }
    }
    let orders = bulk.finish().await?;

    events.sort_unstable();
    use order_event::Column as E;
    let mut bulk = Bulk::new(
        txn,
        order_event::Entity,
        [
            E::Id,
            E::OrderId,
            E::ActorId,
            E::Action,
            E::FromStatus,
            E::ToStatus,
            E::Note,
            E::CreatedAt,
        ],
    );
    for (at, order_id, key) in events {
        let step = &planned[key / 8].steps[key % 8];
        bulk.push(vec![
            take(&mut ids.order_event).into(),
            order_id.into(),
            step.actor.into(),
            step.action.to_value().into(),
            step.from.map(|s| s.to_value()).into(),
            step.to.to_value().into(),
            step.note.map(str::to_owned).into(),
            at.into(),
        ])
        .await?;
    }
    Ok((orders, bulk.finish().await?))
}

pub(super) async fn insert_ledger(
    txn: &impl ConnectionTrait,
    mut ledger: Vec<Entry>,
    ids: &mut Ids,
) -> anyhow::Result<u64> {
    ledger.sort_by(|a, b| (a.at, a.user, &a.source_key).cmp(&(b.at, b.user, &b.source_key)));
    use point_entry::Column as C;
    let mut bulk = Bulk::new(
        txn,
        point_entry::Entity,
        [
            C::Id,
            C::UserId,
            C::Delta,
            C::Reason,
            C::Action,
            C::SourceKey,
            C::ActorId,
            C::CreatedAt,
        ],
    );
    for e in ledger {
        bulk.push(vec![
            take(&mut ids.point_entry).into(),
            e.user.into(),
            e.delta.into(),
            e.reason.into(),
            e.action.to_value().into(),
            e.source_key.into(),
            Some(e.actor).into(),
            e.at.into(),
        ])
        .await?;
    }
    bulk.finish().await
}

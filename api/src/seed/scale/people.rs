//! Users: staff, party members, volunteers and residents, their roles and memberships; the
//! errand catalogue; who takes work on.

use super::*;

pub(super) struct Member {
    pub(super) user: i64,
    pub(super) home: usize,
    pub(super) org: i64,
    pub(super) category: MemberCategory,
    pub(super) status: MemberStatus,
    pub(super) work_unit: Option<&'static str>,
}

pub(super) struct Homed {
    pub(super) user: i64,
    pub(super) home: usize,
}

pub(super) struct People {
    pub(super) district_admin: i64,
    pub(super) members: Vec<Member>,
    pub(super) volunteers: Vec<Homed>,
    pub(super) residents: Vec<Homed>,
}

pub(super) fn plan_people(shape: &Shape, d: &mut District, ids: &mut Ids) -> People {
    let mut rng = rng(2);
    let district_admin = take(&mut ids.users);
    for s in &mut d.streets {
        s.admin = take(&mut ids.users);
    }
    for c in &mut d.communities {
        c.admin = take(&mut ids.users);
    }
    for c in &mut d.compounds {
        c.steward = take(&mut ids.users);
    }
    for c in &mut d.compounds {
        c.property = take(&mut ids.users);
    }
    for g in &mut d.grids {
        g.worker = take(&mut ids.users);
    }
    let org_buildings: Vec<usize> = (0..d.buildings.len())
        .filter(|b| d.compounds[d.buildings[*b].compound].org.is_some())
        .collect();
    let mut members = Vec::with_capacity(shape.members);
    for k in 0..shape.members {
        let home = org_buildings.choose(&mut rng).copied().unwrap_or(0);
        let building = &d.buildings[home];
        let compound_org = d.compounds[building.compound].org.unwrap_or(d.district_org);
        let org = match d.grids[building.grid].branch {
            Some(branch) if rng.random_bool(0.7) => branch,
            _ => compound_org,
        };
        let (category, status, work_unit) = if k < shape.in_service {
            (
                MemberCategory::InService,
                MemberStatus::Active,
                WORK_UNITS.choose(&mut rng).copied(),
            )
        } else {
            let category = match rng.random_range(0..100) {
                0..55 => MemberCategory::Retired,
                55..70 => MemberCategory::Floating,
                _ => MemberCategory::Unemployed,
            };
            let status = match rng.random_range(0..100) {
                0..90 => MemberStatus::Active,
                90..97 => MemberStatus::Pending,
                _ => MemberStatus::Rejected,
            };
            (category, status, None)
        };
        members.push(Member {
            user: take(&mut ids.users),
            home,
            org,
            category,
            status,
            work_unit,
        });
    }
    let buildings = d.buildings.len();
    let mut homed = |n: usize, rng: &mut ChaCha8Rng| -> Vec<Homed> {
        (0..n)
            .map(|_| Homed {
                user: take(&mut ids.users),
                home: rng.random_range(0..buildings),
            })
            .collect()
    };
    let volunteers = homed(shape.volunteers, &mut rng);
    let residents = homed(
        shape.homed.saturating_sub(shape.members + shape.volunteers),
        &mut rng,
    );
    People {
        district_admin,
        members,
        volunteers,
        residents,
    }
}

pub(super) fn person_name(rng: &mut ChaCha8Rng) -> String {
    let mut name = String::from(SURNAMES.choose(rng).copied().unwrap_or("王"));
    for _ in 0..rng.random_range(1..=2) {
        name.push_str(GIVEN.choose(rng).copied().unwrap_or("明"));
    }
    name
}

/// Every seeded user in id order, with their openid and home.
pub(super) fn each_user(d: &District, p: &People) -> Vec<(i64, String, Option<usize>)> {
    let mut all = vec![(p.district_admin, DISTRICT_ADMIN_OPENID.to_owned(), None)];
    all.extend(
        d.streets
            .iter()
            .enumerate()
            .map(|(i, s)| (s.admin, format!("seed-street-admin-{:02}", i + 1), None)),
    );
    all.extend(
        d.communities
            .iter()
            .enumerate()
            .map(|(i, c)| (c.admin, format!("seed-community-admin-{:03}", i + 1), None)),
    );
    all.extend(
        d.compounds
            .iter()
            .enumerate()
            .map(|(i, c)| (c.steward, format!("seed-steward-{:04}", i + 1), None)),
    );
    all.extend(
        d.compounds
            .iter()
            .enumerate()
            .map(|(i, c)| (c.property, format!("seed-property-{:04}", i + 1), None)),
    );
    all.extend(
        d.grids
            .iter()
            .enumerate()
            .map(|(i, g)| (g.worker, format!("seed-grid-{:04}", i + 1), None)),
    );
    all.extend(
        p.members
            .iter()
            .enumerate()
            .map(|(i, m)| (m.user, format!("seed-m-{:06}", i + 1), Some(m.home))),
    );
    all.extend(
        p.volunteers
            .iter()
            .enumerate()
            .map(|(i, v)| (v.user, format!("seed-v-{:06}", i + 1), Some(v.home))),
    );
    all.extend(
        p.residents
            .iter()
            .enumerate()
            .map(|(i, r)| (r.user, format!("seed-r-{:06}", i + 1), Some(r.home))),
    );
    all
}

pub(super) async fn insert_users(
    txn: &impl ConnectionTrait,
    d: &District,
    p: &People,
    ids: &mut Ids,
    as_of: DateTime<Utc>,
) -> anyhow::Result<(u64, u64)> {
    let mut rng = rng(3);
    let everyone = each_user(d, p);
    let mut joined: HashMap<i64, DateTime<Utc>> = HashMap::with_capacity(everyone.len());
    {
        use users::Column as C;
        let mut bulk = Bulk::new(
            txn,
            users::Entity,
            [
                C::Id,
                C::Openid,
                C::Nickname,
                C::HomeAreaId,
                C::Room,
                C::CreatedAt,
                C::UpdatedAt,
            ],
        );
        for (id, openid, home) in &everyone {
            // Accounts are older than anything their owners did: members were verified at
            // least 393 days before as_of, and no wish or errand began earlier than 380 days.
            let created = as_of - seconds(rng.random_range(430 * DAY..760 * DAY));
            joined.insert(*id, created);
            let room = home.map(|_| {
                format!(
                    "{}-{}{:02}",
                    rng.random_range(1..=4),
                    rng.random_range(1..=18),
                    rng.random_range(1..=4)
                )
            });
            bulk.push(vec![
                (*id).into(),
                openid.as_str().into(),
                person_name(&mut rng).into(),
                home.map(|b| d.buildings[b].id).into(),
                room.into(),
                created.into(),
                created.into(),
            ])
            .await?;
        }
        let users = bulk.finish().await?;

        use role_grant::Column as G;
        let mut grants = Bulk::new(
            txn,
            role_grant::Entity,
            [
                G::Id,
                G::UserId,
                G::Role,
                G::AreaId,
                G::GrantedBy,
                G::CreatedAt,
            ],
        );
        let mut grant = |user: i64, role: Role, area: i64, by: Option<i64>| {
            let at = joined.get(&user).copied().unwrap_or(as_of) + seconds(HOUR);
            vec![
                take(&mut ids.role_grant).into(),
                user.into(),
                role.to_value().into(),
                area.into(),
                by.into(),
                at.into(),
            ]
        };
        let admin = Some(p.district_admin);
        grants
            .push(grant(p.district_admin, Role::DistrictAdmin, d.root, None))
            .await?;
        for s in &d.streets {
            grants
                .push(grant(s.admin, Role::StreetAdmin, s.id, admin))
                .await?;
        }
        for c in &d.communities {
            grants
                .push(grant(c.admin, Role::CommunityAdmin, c.id, admin))
                .await?;
        }
        for c in &d.compounds {
            let by = Some(d.communities[c.community].admin);
            grants
                .push(grant(c.steward, Role::Steward, c.id, by))
                .await?;
            grants
                .push(grant(c.property, Role::PropertyStaff, c.id, by))
                .await?;
        }
        for g in &d.grids {
            let c = &d.compounds[g.compound];
            let by = Some(d.communities[c.community].admin);
            grants
                .push(grant(g.worker, Role::GridWorker, g.id, by))
                .await?;
        }
        // bindHome grants RESIDENT at the home, by the user themself.
        for (user, _, home) in &everyone {
            if let Some(b) = home {
                grants
                    .push(grant(
                        *user,
                        Role::Resident,
                        d.buildings[*b].id,
                        Some(*user),
                    ))
                    .await?;
            }
        }
        for v in &p.volunteers {
            let c = &d.communities[d.community_of(v.home)];
            grants
                .push(grant(v.user, Role::Volunteer, c.id, Some(c.admin)))
                .await?;
        }
        Ok((users, grants.finish().await?))
    }
}

pub(super) async fn insert_members(
    txn: &impl ConnectionTrait,
    d: &District,
    p: &People,
    as_of: DateTime<Utc>,
) -> anyhow::Result<u64> {
    let mut rng = rng(4);
    use party_member::Column as C;
    let mut bulk = Bulk::new(
        txn,
        party_member::Entity,
        [
            C::UserId,
            C::PartyOrgId,
            C::Category,
            C::WorkUnit,
            C::Status,
            C::VerifiedBy,
            C::VerifiedAt,
            C::CreatedAt,
        ],
    );
    for m in &p.members {
        let created = as_of - seconds(rng.random_range(400 * DAY..420 * DAY));
        let decided = m.status != MemberStatus::Pending;
        let verifier = d.communities[d.community_of(m.home)].admin;
        let verified_at = created + seconds(rng.random_range(HOUR..7 * DAY));
        bulk.push(vec![
            m.user.into(),
            m.org.into(),
            m.category.to_value().into(),
            m.work_unit.map(str::to_owned).into(),
            m.status.to_value().into(),
            decided.then_some(verifier).into(),
            decided.then_some(verified_at).into(),
            created.into(),
        ])
        .await?;
    }
    bulk.finish().await
}

pub(super) struct Catalogue {
    pub(super) rows: u64,
    pub(super) district: Vec<i64>,
    pub(super) per_street: Vec<Vec<i64>>,
}

pub(super) async fn insert_catalogue(
    txn: &impl ConnectionTrait,
    d: &District,
    p: &People,
    ids: &mut Ids,
    root: &area::Model,
    as_of: DateTime<Utc>,
) -> anyhow::Result<Catalogue> {
    use service_item::Column as C;
    let mut bulk = Bulk::new(
        txn,
        service_item::Entity,
        [
            C::Id,
            C::AreaId,
            C::Name,
            C::Description,
            C::CreatedBy,
            C::CreatedAt,
        ],
    );
    let at = as_of - seconds(380 * DAY);
    let mut catalogue = Catalogue {
        rows: 0,
        district: Vec::new(),
        per_street: Vec::new(),
    };
    for (name, description) in SERVICE_ITEMS {
        let id = take(&mut ids.service_item);
        catalogue.district.push(id);
        bulk.push(vec![
            id.into(),
            root.id.into(),
            (*name).into(),
            (*description).into(),
            Some(p.district_admin).into(),
            at.into(),
        ])
        .await?;
    }
    for s in &d.streets {
        let mut items = Vec::new();
        for (name, description) in STREET_ITEMS {
            let id = take(&mut ids.service_item);
            items.push(id);
            bulk.push(vec![
                id.into(),
                s.id.into(),
                (*name).into(),
                (*description).into(),
                Some(s.admin).into(),
                at.into(),
            ])
            .await?;
        }
        catalogue.per_street.push(items);
    }
    catalogue.rows = bulk.finish().await?;
    Ok(catalogue)
}

/// Who takes work on, per community: ACTIVE party members living there (in-service members, who
/// are managed by points, several times over) and its volunteers.
pub(super) struct Pools {
    pub(super) claimants: Vec<Vec<i64>>,
    pub(super) volunteers: Vec<Vec<i64>>,
    pub(super) everyone: Vec<i64>,
}

impl Pools {
    pub(super) fn build(d: &District, p: &People) -> Self {
        let mut claimants = vec![Vec::new(); d.communities.len()];
        let mut volunteers = vec![Vec::new(); d.communities.len()];
        let mut everyone = Vec::new();
        for m in &p.members {
            if m.status != MemberStatus::Active {
                continue;
            }
            let weight = if m.category == MemberCategory::InService {
                6
            } else {
                1
            };
            let pool = &mut claimants[d.community_of(m.home)];
            pool.extend(std::iter::repeat_n(m.user, weight));
            everyone.push(m.user);
        }
        for v in &p.volunteers {
            let c = d.community_of(v.home);
            claimants[c].extend(std::iter::repeat_n(v.user, 3));
            volunteers[c].push(v.user);
            everyone.push(v.user);
        }
        Self {
            claimants,
            volunteers,
            everyone,
        }
    }

    /// A claimant for work in community `c` other than `not`.
    pub(super) fn claimant(&self, c: usize, not: Option<i64>, rng: &mut ChaCha8Rng) -> Option<i64> {
        let pool = if self.claimants[c].is_empty() {
            &self.everyone
        } else {
            &self.claimants[c]
        };
        for _ in 0..8 {
            let pick = pool.choose(rng).copied();
            if pick != not {
                return pick;
            }
        }
        self.everyone.iter().copied().find(|u| Some(*u) != not)
    }
}

/// A ledger entry as the API writes it.
pub(super) struct Entry {
    pub(super) user: i64,
    pub(super) delta: i32,
    pub(super) reason: String,
    pub(super) action: PointAction,
    pub(super) source_key: String,
    pub(super) actor: i64,
    pub(super) at: DateTime<Utc>,
}

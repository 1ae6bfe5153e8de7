//! The area tree (streets, communities, compounds, grids, buildings) and the party
//! organisations bound to it.

use super::*;

pub(super) struct Street {
    pub(super) id: i64,
    pub(super) path: String,
    pub(super) name: String,
    pub(super) org: i64,
    pub(super) admin: i64,
}

pub(super) struct Community {
    pub(super) id: i64,
    pub(super) path: String,
    pub(super) street: usize,
    pub(super) name: String,
    pub(super) org: i64,
    pub(super) admin: i64,
}

pub(super) struct Compound {
    pub(super) id: i64,
    pub(super) path: String,
    pub(super) community: usize,
    pub(super) name: String,
    pub(super) grids: std::ops::Range<usize>,
    pub(super) org: Option<i64>,
    pub(super) steward: i64,
    pub(super) property: i64,
}

pub(super) struct Grid {
    pub(super) id: i64,
    pub(super) path: String,
    pub(super) compound: usize,
    pub(super) name: String,
    pub(super) branch: Option<i64>,
    pub(super) worker: i64,
    pub(super) buildings: std::ops::Range<usize>,
}

pub(super) struct Building {
    pub(super) id: i64,
    pub(super) path: String,
    pub(super) grid: usize,
    pub(super) compound: usize,
    pub(super) name: String,
}

pub(super) struct District {
    pub(super) root: i64,
    pub(super) org_compounds: usize,
    pub(super) district_org: i64,
    pub(super) streets: Vec<Street>,
    pub(super) communities: Vec<Community>,
    pub(super) compounds: Vec<Compound>,
    pub(super) grids: Vec<Grid>,
    pub(super) buildings: Vec<Building>,
}

impl District {
    pub(super) fn community_of(&self, building: usize) -> usize {
        self.compounds[self.buildings[building].compound].community
    }
}

/// Splits `total` into `parts` near-equal shares.
pub(super) fn shares(total: usize, parts: usize) -> Vec<usize> {
    (0..parts)
        .map(|i| total / parts + usize::from(i < total % parts))
        .collect()
}

pub(super) fn plan_areas(shape: &Shape, root: &area::Model, ids: &mut Ids) -> District {
    let mut rng = rng(1);
    let mut district = District {
        root: root.id,
        org_compounds: shape.org_compounds,
        district_org: 0,
        streets: Vec::new(),
        communities: Vec::new(),
        compounds: Vec::new(),
        grids: Vec::new(),
        buildings: Vec::new(),
    };
    for (s, name) in STREETS.iter().cycle().take(shape.streets).enumerate() {
        let id = take(&mut ids.area);
        let name = if s < STREETS.len() {
            (*name).to_owned()
        } else {
            format!("{name}{}", s / STREETS.len() + 1)
        };
        district.streets.push(Street {
            id,
            path: format!("{}{id}/", root.path),
            name,
            org: 0,
            admin: 0,
        });
    }
    let per_street = shares(shape.communities, shape.streets);
    for (s, count) in per_street.iter().enumerate() {
        for _ in 0..*count {
            let i = district.communities.len();
            let j = (i * 7) % (COMMUNITY_A.len() * COMMUNITY_B.len());
            let id = take(&mut ids.area);
            district.communities.push(Community {
                id,
                path: format!("{}{id}/", district.streets[s].path),
                street: s,
                name: format!(
                    "{}{}社区",
                    COMMUNITY_A[j % COMMUNITY_A.len()],
                    COMMUNITY_B[(j / COMMUNITY_A.len()) % COMMUNITY_B.len()]
                ),
                org: 0,
                admin: 0,
            });
        }
    }
    // Buildings per compound vary: everyone gets one, the rest fall where the dice say.
    let mut buildings_of = vec![1usize; shape.compounds];
    for _ in shape.compounds..shape.buildings {
        let c = rng.random_range(0..shape.compounds);
        buildings_of[c] += 1;
    }
    let per_community = shares(shape.compounds, shape.communities);
    let combos = COMPOUND_A.len() * COMPOUND_B.len() * COMPOUND_C.len();
    for (c, count) in per_community.iter().enumerate() {
        for _ in 0..*count {
            let i = district.compounds.len();
            let j = (i * 1013) % combos;
            let ab = COMPOUND_A.len() * COMPOUND_B.len();
            let mut name = format!(
                "{}{}{}",
                COMPOUND_A[j % COMPOUND_A.len()],
                COMPOUND_B[(j / COMPOUND_A.len()) % COMPOUND_B.len()],
                COMPOUND_C[(j / ab) % COMPOUND_C.len()]
            );
            if i >= combos {
                name.push_str(&(i / combos + 1).to_string());
            }
            let id = take(&mut ids.area);
            let path = format!("{}{id}/", district.communities[c].path);
            let n_buildings = buildings_of[i];
            let n_grids = n_buildings.div_ceil(8);
            let first_grid = district.grids.len();
            let mut number = 0;
            for (g, in_grid) in shares(n_buildings, n_grids).into_iter().enumerate() {
                let grid_id = take(&mut ids.area);
                let grid_path = format!("{path}{grid_id}/");
                let first_building = district.buildings.len();
                for _ in 0..in_grid {
                    number += 1;
                    let building_id = take(&mut ids.area);
                    district.buildings.push(Building {
                        id: building_id,
                        path: format!("{grid_path}{building_id}/"),
                        grid: district.grids.len(),
                        compound: i,
                        name: format!("{number}号楼"),
                    });
                }
                district.grids.push(Grid {
                    id: grid_id,
                    path: grid_path,
                    compound: i,
                    name: format!("{name}第{}网格", g + 1),
                    branch: None,
                    worker: 0,
                    buildings: first_building..district.buildings.len(),
                });
            }
            district.compounds.push(Compound {
                id,
                path,
                community: c,
                name,
                grids: first_grid..district.grids.len(),
                org: None,
                steward: 0,
                property: 0,
            });
        }
    }
    district
}

pub(super) fn area_row(
    id: i64,
    parent: i64,
    kind: AreaKind,
    name: &str,
    path: &str,
    at: DateTime<Utc>,
) -> Vec<Value> {
    vec![
        id.into(),
        Some(parent).into(),
        kind.to_value().into(),
        name.into(),
        path.into(),
        at.into(),
    ]
}

pub(super) async fn insert_areas(
    txn: &impl ConnectionTrait,
    d: &District,
    root: &area::Model,
    as_of: DateTime<Utc>,
) -> anyhow::Result<u64> {
    use area::Column as C;
    let mut bulk = Bulk::new(
        txn,
        area::Entity,
        [C::Id, C::ParentId, C::Kind, C::Name, C::Path, C::CreatedAt],
    );
    let at = as_of - seconds(800 * DAY);
    for s in &d.streets {
        bulk.push(area_row(
            s.id,
            root.id,
            AreaKind::Street,
            &s.name,
            &s.path,
            at,
        ))
        .await?;
    }
    for c in &d.communities {
        let parent = d.streets[c.street].id;
        bulk.push(area_row(
            c.id,
            parent,
            AreaKind::Community,
            &c.name,
            &c.path,
            at,
        ))
        .await?;
    }
    for c in &d.compounds {
        let parent = d.communities[c.community].id;
        bulk.push(area_row(
            c.id,
            parent,
            AreaKind::Compound,
            &c.name,
            &c.path,
            at,
        ))
        .await?;
    }
    for g in &d.grids {
        let parent = d.compounds[g.compound].id;
        bulk.push(area_row(g.id, parent, AreaKind::Grid, &g.name, &g.path, at))
            .await?;
    }
    for b in &d.buildings {
        let parent = d.grids[b.grid].id;
        bulk.push(area_row(
            b.id,
            parent,
            AreaKind::Building,
            &b.name,
            &b.path,
            at,
        ))
        .await?;
    }
    bulk.finish().await
}

/// The organisation tree: 区委 > 街道党工委 > 社区党委 > 小区党总支 (in the largest compound of
/// every community, then the next largest anywhere) > 网格党支部 (one per grid of those).
pub(super) async fn insert_orgs(
    txn: &impl ConnectionTrait,
    d: &mut District,
    root: &area::Model,
    ids: &mut Ids,
    as_of: DateTime<Utc>,
) -> anyhow::Result<u64> {
    use party_org::Column as C;
    let mut bulk = Bulk::new(
        txn,
        party_org::Entity,
        [
            C::Id,
            C::ParentId,
            C::AreaId,
            C::Name,
            C::Path,
            C::CreatedAt,
        ],
    );
    let at = as_of - seconds(790 * DAY);
    let row = |id: i64, parent: Option<(i64, &str)>, area: i64, name: String| {
        let path = format!("{}{id}/", parent.map(|(_, p)| p).unwrap_or("/"));
        let values: Vec<Value> = vec![
            id.into(),
            parent.map(|(p, _)| p).into(),
            area.into(),
            name.into(),
            path.clone().into(),
            at.into(),
        ];
        (values, path)
    };
    let district_id = take(&mut ids.party_org);
    d.district_org = district_id;
    let (values, district_path) = row(district_id, None, root.id, format!("{}委", root.name));
    bulk.push(values).await?;
    let mut street_paths = Vec::new();
    for s in &mut d.streets {
        s.org = take(&mut ids.party_org);
        let (values, path) = row(
            s.org,
            Some((district_id, &district_path)),
            s.id,
            format!("{}党工委", s.name),
        );
        bulk.push(values).await?;
        street_paths.push(path);
    }
    let mut community_paths = Vec::new();
    for c in &mut d.communities {
        c.org = take(&mut ids.party_org);
        let parent = d.streets[c.street].org;
        let (values, path) = row(
            c.org,
            Some((parent, &street_paths[c.street])),
            c.id,
            format!("{}党委", c.name),
        );
        bulk.push(values).await?;
        community_paths.push(path);
    }

    let size = |c: &Compound| c.grids.clone().map(|g| d.grids[g].buildings.len()).sum();
    let sizes: Vec<usize> = d.compounds.iter().map(size).collect();
    let mut chosen = vec![false; d.compounds.len()];
    let mut largest: HashMap<usize, usize> = HashMap::new();
    for (i, c) in d.compounds.iter().enumerate() {
        let best = largest.entry(c.community).or_insert(i);
        if sizes[i] > sizes[*best] {
            *best = i;
        }
    }
    for i in largest.values() {
        chosen[*i] = true;
    }
    let mut rest: Vec<usize> = (0..d.compounds.len()).filter(|i| !chosen[*i]).collect();
    rest.sort_by_key(|i| (std::cmp::Reverse(sizes[*i]), *i));
    let extra = d.org_compounds.saturating_sub(largest.len());
    for i in rest.into_iter().take(extra) {
        chosen[i] = true;
    }
    for (i, compound) in d.compounds.iter_mut().enumerate() {
        if !chosen[i] {
            continue;
        }
        let org = take(&mut ids.party_org);
        compound.org = Some(org);
        let parent = d.communities[compound.community].org;
        let (values, path) = row(
            org,
            Some((parent, &community_paths[compound.community])),
            compound.id,
            format!("{}小区党总支", compound.name),
        );
        bulk.push(values).await?;
        for g in compound.grids.clone() {
            let branch = take(&mut ids.party_org);
            let grid = &mut d.grids[g];
            grid.branch = Some(branch);
            let (values, _) = row(
                branch,
                Some((org, &path)),
                grid.id,
                format!("{}党支部", grid.name),
            );
            bulk.push(values).await?;
        }
    }
    bulk.finish().await
}

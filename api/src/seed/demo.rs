//! A small demo district so a fresh checkout can be tried at once: two streets, communities,
//! compounds and buildings with names from Wanbailin, a party organisation tree and a few users
//! to sign in as with `devLogin`.

use chrono::Utc;
use entity::area::{self, AreaKind};
use entity::party_member::{self, MemberCategory, MemberStatus};
use entity::role_grant::Role;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, IntoActiveModel, QueryFilter,
    Set, TransactionTrait,
};

use crate::identity::find_or_create_user;
use crate::org::{grant, insert_area, insert_party_org};

/// The demo users' openids, for `devLogin(openid: ...)`.
pub const DEMO_USERS: &[(&str, &str)] = &[
    ("demo-admin", "区管理员 (DISTRICT_ADMIN)"),
    (
        "demo-community-admin",
        "社区管理员 (COMMUNITY_ADMIN at 南寒社区)",
    ),
    ("demo-resident", "居民 (home: 金泽华府 1号楼)"),
    ("demo-party-member", "在职党员 (ACTIVE, 金泽华府小区党支部)"),
    ("demo-volunteer", "志愿者 (VOLUNTEER at 兴华街道)"),
];

/// Seeds the demo district once; answers false when it is already there.
pub async fn seed_demo(db: &DatabaseConnection, root: &area::Model) -> anyhow::Result<bool> {
    let seeded = area::Entity::find()
        .filter(area::Column::ParentId.eq(root.id))
        .filter(area::Column::Name.eq("南寒街道"))
        .one(db)
        .await?;
    if seeded.is_some() {
        return Ok(false);
    }
    let txn = db.begin().await?;
    let nanhan = insert_area(&txn, root, AreaKind::Street, "南寒街道").await?;
    let xinghua = insert_area(&txn, root, AreaKind::Street, "兴华街道").await?;
    let nanhan_c = insert_area(&txn, &nanhan, AreaKind::Community, "南寒社区").await?;
    let xinghua_c = insert_area(&txn, &xinghua, AreaKind::Community, "兴华社区").await?;
    let jinze = insert_area(&txn, &nanhan_c, AreaKind::Compound, "金泽华府").await?;
    let binhua = insert_area(&txn, &nanhan_c, AreaKind::Compound, "滨花苑").await?;
    let binhe = insert_area(&txn, &xinghua_c, AreaKind::Compound, "滨河左岸").await?;
    let grid = insert_area(&txn, &jinze, AreaKind::Grid, "金泽华府第一网格").await?;
    let jinze_1 = insert_area(&txn, &grid, AreaKind::Building, "1号楼").await?;
    insert_area(&txn, &grid, AreaKind::Building, "2号楼").await?;
    insert_area(&txn, &binhua, AreaKind::Building, "1号楼").await?;
    insert_area(&txn, &binhe, AreaKind::Building, "1号楼").await?;

    let district_org = insert_party_org(&txn, root, None, "万柏林区委").await?;
    let street_org = insert_party_org(&txn, &nanhan, Some(&district_org), "南寒街道党工委").await?;
    let community_org =
        insert_party_org(&txn, &nanhan_c, Some(&street_org), "南寒社区党委").await?;
    let compound_org =
        insert_party_org(&txn, &jinze, Some(&community_org), "金泽华府小区党支部").await?;
    txn.commit().await?;

    let admin = find_or_create_user(db, "demo-admin").await?;
    grant(db, admin.id, Role::DistrictAdmin, root.id, None).await?;
    let community_admin = find_or_create_user(db, "demo-community-admin").await?;
    grant(
        db,
        community_admin.id,
        Role::CommunityAdmin,
        nanhan_c.id,
        Some(admin.id),
    )
    .await?;

    for (openid, nickname, home) in [
        ("demo-resident", "王阿姨", &jinze_1),
        ("demo-party-member", "李党员", &jinze_1),
        ("demo-volunteer", "赵志愿", &binhe),
    ] {
        let user = find_or_create_user(db, openid).await?;
        let mut active = user.into_active_model();
        active.nickname = Set(nickname.to_owned());
        active.home_area_id = Set(Some(home.id));
        let user = active.update(db).await?;
        grant(db, user.id, Role::Resident, home.id, Some(admin.id)).await?;
    }
    let volunteer = find_or_create_user(db, "demo-volunteer").await?;
    grant(
        db,
        volunteer.id,
        Role::Volunteer,
        xinghua.id,
        Some(admin.id),
    )
    .await?;

    let member = find_or_create_user(db, "demo-party-member").await?;
    party_member::ActiveModel {
        user_id: Set(member.id),
        party_org_id: Set(compound_org.id),
        category: Set(MemberCategory::InService),
        work_unit: Set(Some("万柏林区人民医院".to_owned())),
        status: Set(MemberStatus::Active),
        verified_by: Set(Some(community_admin.id)),
        verified_at: Set(Some(Utc::now())),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(true)
}

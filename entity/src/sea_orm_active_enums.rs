use async_graphql::Enum;
use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// The level of an area in the district tree, from the district down to a building.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    EnumIter,
    DeriveActiveEnum,
    Enum,
    Serialize,
    Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[graphql(name = "AreaKind")]
pub enum AreaKind {
    /// 区
    #[sea_orm(string_value = "DISTRICT")]
    District,
    /// 街道
    #[sea_orm(string_value = "STREET")]
    Street,
    /// 社区 / 村
    #[sea_orm(string_value = "COMMUNITY")]
    Community,
    /// 小区
    #[sea_orm(string_value = "COMPOUND")]
    Compound,
    /// 网格
    #[sea_orm(string_value = "GRID")]
    Grid,
    /// 楼栋
    #[sea_orm(string_value = "BUILDING")]
    Building,
}

impl AreaKind {
    /// Whether an area of kind `self` may hang directly below an area of kind `parent`: one level
    /// down, except that a building may skip the optional grid level below a compound.
    pub fn may_be_child_of(self, parent: AreaKind) -> bool {
        use AreaKind::*;
        matches!(
            (parent, self),
            (District, Street)
                | (Street, Community)
                | (Community, Compound)
                | (Compound, Grid)
                | (Compound, Building)
                | (Grid, Building)
        )
    }

    /// Kinds a resident's home may be.
    pub fn is_home(self) -> bool {
        matches!(self, AreaKind::Compound | AreaKind::Building)
    }
}

/// A role held at an area; it covers that area's whole subtree. Listed from the least to the
/// most powerful: a user may grant only roles no higher than their own.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    EnumIter,
    DeriveActiveEnum,
    Enum,
    Serialize,
    Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(24))")]
#[graphql(name = "Role")]
pub enum Role {
    /// 居民
    #[sea_orm(string_value = "RESIDENT")]
    Resident,
    /// 志愿者
    #[sea_orm(string_value = "VOLUNTEER")]
    Volunteer,
    /// 楼栋长
    #[sea_orm(string_value = "BUILDING_LEADER")]
    BuildingLeader,
    /// 网格员
    #[sea_orm(string_value = "GRID_WORKER")]
    GridWorker,
    /// 管家
    #[sea_orm(string_value = "STEWARD")]
    Steward,
    /// 物业
    #[sea_orm(string_value = "PROPERTY_STAFF")]
    PropertyStaff,
    /// 社区管理员
    #[sea_orm(string_value = "COMMUNITY_ADMIN")]
    CommunityAdmin,
    /// 街道管理员
    #[sea_orm(string_value = "STREET_ADMIN")]
    StreetAdmin,
    /// 区管理员
    #[sea_orm(string_value = "DISTRICT_ADMIN")]
    DistrictAdmin,
}

impl Role {
    /// Position in the hierarchy; higher is more powerful.
    pub fn rank(self) -> u8 {
        self as u8
    }

    pub fn is_admin(self) -> bool {
        self.rank() >= Role::CommunityAdmin.rank()
    }
}

/// 四类党员: the four categories of party members.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    EnumIter,
    DeriveActiveEnum,
    Enum,
    Serialize,
    Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[graphql(name = "MemberCategory")]
pub enum MemberCategory {
    /// 在职党员: reports to the home community as well as the work unit (双报到).
    #[sea_orm(string_value = "IN_SERVICE")]
    InService,
    /// 离退休党员
    #[sea_orm(string_value = "RETIRED")]
    Retired,
    /// 流动党员
    #[sea_orm(string_value = "FLOATING")]
    Floating,
    /// 无职党员
    #[sea_orm(string_value = "UNEMPLOYED")]
    Unemployed,
}

/// Where a party member's registration stands.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    EnumIter,
    DeriveActiveEnum,
    Enum,
    Serialize,
    Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[graphql(name = "MemberStatus")]
pub enum MemberStatus {
    /// Waiting for an admin in scope to verify.
    #[sea_orm(string_value = "PENDING")]
    Pending,
    /// Verified: may claim wishes and earns points.
    #[sea_orm(string_value = "ACTIVE")]
    Active,
    /// Not accepted; the user may register again.
    #[sea_orm(string_value = "REJECTED")]
    Rejected,
}

/// Where a 微心愿 stands: OPEN -> CLAIMED -> FULFILLED -> CONFIRMED; OPEN -> CANCELLED;
/// CLAIMED -> OPEN when released.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    EnumIter,
    DeriveActiveEnum,
    Enum,
    Serialize,
    Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[graphql(name = "WishStatus")]
pub enum WishStatus {
    /// Waiting for someone to take it on.
    #[sea_orm(string_value = "OPEN")]
    Open,
    /// A party member or volunteer has taken it on.
    #[sea_orm(string_value = "CLAIMED")]
    Claimed,
    /// The claimant says it is done; waiting for the poster to confirm.
    #[sea_orm(string_value = "FULFILLED")]
    Fulfilled,
    /// The poster confirmed; the claimant earned the points.
    #[sea_orm(string_value = "CONFIRMED")]
    Confirmed,
    /// Withdrawn by the poster.
    #[sea_orm(string_value = "CANCELLED")]
    Cancelled,
}

/// What a wish is about.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    EnumIter,
    DeriveActiveEnum,
    Enum,
    Serialize,
    Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[graphql(name = "WishCategory")]
pub enum WishCategory {
    /// 生活帮扶
    #[sea_orm(string_value = "DAILY_HELP")]
    DailyHelp,
    /// 陪伴
    #[sea_orm(string_value = "COMPANIONSHIP")]
    Companionship,
    /// 维修
    #[sea_orm(string_value = "REPAIR")]
    Repair,
    /// 学习
    #[sea_orm(string_value = "STUDY")]
    Study,
    /// 健康
    #[sea_orm(string_value = "HEALTH")]
    Health,
    /// 其他
    #[sea_orm(string_value = "OTHER")]
    Other,
}

/// A step in a wish's history.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    EnumIter,
    DeriveActiveEnum,
    Enum,
    Serialize,
    Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[graphql(name = "WishAction")]
pub enum WishAction {
    #[sea_orm(string_value = "POSTED")]
    Posted,
    #[sea_orm(string_value = "CLAIMED")]
    Claimed,
    #[sea_orm(string_value = "RELEASED")]
    Released,
    #[sea_orm(string_value = "FULFILLED")]
    Fulfilled,
    #[sea_orm(string_value = "CONFIRMED")]
    Confirmed,
    #[sea_orm(string_value = "CANCELLED")]
    Cancelled,
}

/// What earns points. Points per action are rules a DISTRICT_ADMIN sets.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    EnumIter,
    DeriveActiveEnum,
    Enum,
    Serialize,
    Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(24))")]
#[graphql(name = "PointAction")]
pub enum PointAction {
    /// A wish the member claimed was confirmed by its poster.
    #[sea_orm(string_value = "WISH_FULFILLED")]
    WishFulfilled,
    /// An errand the member did was rated by the resident.
    #[sea_orm(string_value = "ORDER_COMPLETED")]
    OrderCompleted,
    /// The member attended an activity.
    #[sea_orm(string_value = "ACTIVITY_ATTENDED")]
    ActivityAttended,
    /// An in-service member reported to the home community (双报到).
    #[sea_orm(string_value = "COMMUNITY_REPORT")]
    CommunityReport,
}

/// Where an errand (帮办代办) stands: 点单 PLACED -> 接单 ACCEPTED -> 派单 DISPATCHED -> COMPLETED ->
/// 评单 RATED; PLACED or ACCEPTED -> CANCELLED; PLACED -> REJECTED.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    EnumIter,
    DeriveActiveEnum,
    Enum,
    Serialize,
    Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[graphql(name = "OrderStatus")]
pub enum OrderStatus {
    #[sea_orm(string_value = "PLACED")]
    Placed,
    #[sea_orm(string_value = "ACCEPTED")]
    Accepted,
    #[sea_orm(string_value = "DISPATCHED")]
    Dispatched,
    #[sea_orm(string_value = "COMPLETED")]
    Completed,
    #[sea_orm(string_value = "RATED")]
    Rated,
    #[sea_orm(string_value = "CANCELLED")]
    Cancelled,
    #[sea_orm(string_value = "REJECTED")]
    Rejected,
}

/// A step in an errand's history.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    EnumIter,
    DeriveActiveEnum,
    Enum,
    Serialize,
    Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[graphql(name = "OrderAction")]
pub enum OrderAction {
    #[sea_orm(string_value = "PLACED")]
    Placed,
    #[sea_orm(string_value = "ACCEPTED")]
    Accepted,
    #[sea_orm(string_value = "REJECTED")]
    Rejected,
    #[sea_orm(string_value = "DISPATCHED")]
    Dispatched,
    #[sea_orm(string_value = "COMPLETED")]
    Completed,
    #[sea_orm(string_value = "RATED")]
    Rated,
    #[sea_orm(string_value = "CANCELLED")]
    Cancelled,
}

/// Whom a 睦邻卡 lists to call. For each kind a card shows the contact set at the nearest area at
/// or above the holder's home.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    EnumIter,
    DeriveActiveEnum,
    Enum,
    Serialize,
    Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[graphql(name = "ContactKind")]
pub enum ContactKind {
    /// 社区民警
    #[sea_orm(string_value = "POLICE")]
    Police,
    /// 楼栋长
    #[sea_orm(string_value = "BUILDING_LEADER")]
    BuildingLeader,
    /// 网格员
    #[sea_orm(string_value = "GRID_WORKER")]
    GridWorker,
    /// 物业服务台
    #[sea_orm(string_value = "PROPERTY")]
    Property,
}

/// Why a resident holds a 睦邻卡.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    EnumIter,
    DeriveActiveEnum,
    Enum,
    Serialize,
    Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[graphql(name = "CardReason")]
pub enum CardReason {
    /// 独居老人
    #[sea_orm(string_value = "ELDERLY_ALONE")]
    ElderlyAlone,
    /// 残障人士
    #[sea_orm(string_value = "DISABLED")]
    Disabled,
    /// 其他需要关照的居民
    #[sea_orm(string_value = "OTHER")]
    Other,
}

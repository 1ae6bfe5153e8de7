pub use super::area::Entity as Area;
pub use super::party_member::Entity as PartyMember;
pub use super::party_org::Entity as PartyOrg;
pub use super::role_grant::Entity as RoleGrant;
pub use super::users::Entity as Users;

//! Request data that the server puts into the GraphQL context for the resolvers defined on the
//! entity models, and the error helper they share.

use async_graphql::ErrorExtensions;

/// The signed-in user of the current request, when there is one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CurrentUserId(pub i64);

/// Opens encrypted personal columns; the server provides it as schema data.
pub trait Decrypt: Send + Sync {
    fn decrypt(&self, stored: &str) -> Option<String>;
}

/// A database failure inside a relation resolver: logged with its detail, answered without it.
pub fn internal(err: impl std::fmt::Display) -> async_graphql::Error {
    tracing::error!(error = %err, "database error while resolving a relation");
    async_graphql::Error::new("internal server error")
        .extend_with(|_, e| e.set("code", "INTERNAL_SERVER_ERROR"))
}

/// Masks a phone number for display: 13900000042 -> 139****0042.
pub fn mask_phone(phone: &str) -> String {
    let chars: Vec<char> = phone.chars().collect();
    if chars.len() < 7 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..3].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}****{tail}")
}

#[cfg(test)]
mod tests {
    use super::mask_phone;

    #[test]
    fn masks_the_middle_of_a_mainland_mobile() {
        assert_eq!(mask_phone("13900000042"), "139****0042");
        assert_eq!(mask_phone("12345"), "*****");
    }
}

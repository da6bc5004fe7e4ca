//! Prefixed ULID identifiers (`usr_01J...`, `org_01J...`).
//!
//! Each id type is a distinct newtype so a user id can never be passed where an org
//! id is expected. Ids sort by creation time and are safe to show in URLs.

use crate::error::{CoreError, Result};
use std::sync::Mutex;

/// Monotonic within this process: two ids made in the same millisecond still sort in
/// the order they were made (the random part is incremented instead of redrawn).
static GENERATOR: Mutex<ulid::Generator> = Mutex::new(ulid::Generator::new());

fn next_ulid() -> ulid::Ulid {
    let mut generator = GENERATOR.lock().unwrap_or_else(|e| e.into_inner());
    // Overflow needs 2^80 ids in one millisecond; fall back to a fresh random id.
    generator.generate().unwrap_or_else(|_| ulid::Ulid::new())
}

macro_rules! define_id {
    ($(#[$meta:meta])* $name:ident, $prefix:literal, $kind:literal) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
        #[serde(try_from = "String", into = "String")]
        #[schema(value_type = String, example = json!(concat!($prefix, "_01JD0000000000000000000000")))]
        pub struct $name(String);

        impl $name {
            /// The prefix of this id type, without the underscore.
            pub const PREFIX: &'static str = $prefix;

            /// A fresh id.
            pub fn new() -> Self {
                Self(format!("{}_{}", $prefix, next_ulid()))
            }

            /// Parses an id, checking its prefix and its ULID part.
            pub fn parse(s: &str) -> Result<Self> {
                let ok = s
                    .strip_prefix(concat!($prefix, "_"))
                    .is_some_and(|rest| ulid::Ulid::from_string(rest).is_ok());
                if ok {
                    Ok(Self(s.to_owned()))
                } else {
                    Err(CoreError::InvalidId { kind: $kind, id: s.chars().take(64).collect() })
                }
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = CoreError;
            fn from_str(s: &str) -> Result<Self> {
                Self::parse(s)
            }
        }

        impl TryFrom<String> for $name {
            type Error = CoreError;
            fn try_from(s: String) -> Result<Self> {
                Self::parse(&s)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }
    };
}

define_id!(/// A user.
    UserId, "usr", "user");
define_id!(/// An organization.
    OrgId, "org", "org");
define_id!(/// An API key.
    ApiKeyId, "key", "api key");
define_id!(/// A configured provider endpoint.
    ProviderEndpointId, "pe", "provider endpoint");
define_id!(/// A model definition.
    ModelId, "mdl", "model");
define_id!(/// A chat session.
    SessionId, "ses", "session");
define_id!(/// One message in a chat session.
    InteractionId, "int", "interaction");
define_id!(/// An app (assistant).
    AppId, "app", "app");
define_id!(/// A recorded model call.
    UsageId, "use", "usage record");
define_id!(/// A runner token: the credential one GPU runner dials in with.
    RunnerTokenId, "rtk", "runner token");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_check_prefix() {
        let id = UserId::new();
        assert!(id.as_str().starts_with("usr_"));
        assert_eq!(UserId::parse(id.as_str()).unwrap(), id);
        let org = OrgId::new();
        let err = UserId::parse(org.as_str()).unwrap_err();
        assert_eq!(err.code().as_str(), "invalid_id");
        assert!(UserId::parse("usr_notaulid").is_err());
        assert!(UserId::parse("").is_err());
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(serde_json::from_str::<UserId>(&json).unwrap(), id);
        assert!(serde_json::from_str::<UserId>("\"org_x\"").is_err());
    }

    #[test]
    fn ids_sort_by_creation_even_within_a_millisecond() {
        let ids: Vec<AppId> = (0..1000).map(|_| AppId::new()).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
    }
}

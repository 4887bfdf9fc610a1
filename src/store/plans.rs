//! The `plans` table.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "plans")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub merchant_id: String,
    pub name: String,
    pub description: Option<String>,
    pub amount_msat: i64,
    pub interval_unit: String,
    pub interval_count: i32,
    pub cron_expression: Option<String>,
    pub trial_period_secs: i64,
    pub payment_due_secs: i64,
    pub retry_schedule_secs: Json,
    pub grace_period_secs: i64,
    pub grace_action: String,
    pub status: String,
    /// The slug of the plan's hosted signup page, `/s/{signup_link}`
    /// (unguessable, unique; [`new_signup_link`]).
    pub signup_link: String,
    pub metadata: Json,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// A new signup link: 26 characters of lowercase base32 (130 random bits),
/// so another merchant's plans cannot be found by guessing.
pub fn new_signup_link() -> String {
    const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
    (0..SIGNUP_LINK_LEN)
        .map(|_| char::from(ALPHABET[usize::from(rand::random::<u8>() % 32)]))
        .collect()
}

pub const SIGNUP_LINK_LEN: usize = 26;

/// Whether `link` could be a signup link (no query is made for one that
/// cannot).
pub fn is_signup_link(link: &str) -> bool {
    link.len() == SIGNUP_LINK_LEN
        && link
            .bytes()
            .all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signup_links_are_well_formed_and_differ() {
        let a = new_signup_link();
        assert!(is_signup_link(&a), "{a}");
        assert_ne!(a, new_signup_link());
        assert!(!is_signup_link("short"));
        assert!(!is_signup_link(&a.to_uppercase()));
        assert!(!is_signup_link(&format!("{}\0", &a[1..])));
    }
}

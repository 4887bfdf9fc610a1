//! The `pay_links` table: the unguessable token in an invoice's pay-page URL
//! (`/pay/{token}`), one per invoice.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "pay_links")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub merchant_id: String,
    pub invoice_id: String,
    pub token: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

use base64::Engine;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ConnectionTrait, QueryFilter};

use crate::domain::ids::PayLinkId;
use crate::store::invoices;

/// Characters of a token: 24 random bytes, base64url without padding.
pub const TOKEN_LEN: usize = 32;

/// The invoice's pay-page token, made on first use (inside the caller's
/// transaction; a concurrent maker's token wins and is returned).
pub async fn token_for(
    db: &impl ConnectionTrait,
    now: DateTimeUtc,
    invoice: &invoices::Model,
) -> Result<String, DbErr> {
    if let Some(link) = find_for_invoice(db, &invoice.id).await? {
        return Ok(link.token);
    }
    let bytes: [u8; 24] = rand::random();
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    Entity::insert(ActiveModel {
        id: Set(PayLinkId::new().to_string()),
        merchant_id: Set(invoice.merchant_id.clone()),
        invoice_id: Set(invoice.id.clone()),
        token: Set(token),
        created_at: Set(now),
    })
    .on_conflict(
        OnConflict::column(Column::InvoiceId)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    find_for_invoice(db, &invoice.id)
        .await?
        .map(|l| l.token)
        .ok_or_else(|| DbErr::RecordNotFound(format!("pay link of {}", invoice.id)))
}

async fn find_for_invoice(
    db: &impl ConnectionTrait,
    invoice_id: &str,
) -> Result<Option<Model>, DbErr> {
    Entity::find()
        .filter(Column::InvoiceId.eq(invoice_id))
        .one(db)
        .await
}

/// The link behind a token; `None` for an unknown or malformed one (no
/// query is made for a token that cannot be one).
pub async fn find(db: &impl ConnectionTrait, token: &str) -> Result<Option<Model>, DbErr> {
    let well_formed = token.len() == TOKEN_LEN
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !well_formed {
        return Ok(None);
    }
    Entity::find().filter(Column::Token.eq(token)).one(db).await
}

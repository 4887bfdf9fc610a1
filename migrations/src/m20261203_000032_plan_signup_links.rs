use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;
use sea_orm_migration::sea_orm::{DbBackend, Statement};

use crate::columns::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Every plan's hosted signup page, `/s/{signup_link}`: an unguessable slug
/// (26 characters of base32, 130 random bits), unique, made for every
/// existing plan here and for every new plan by `catalog::plans::create`.
/// SQLite cannot make an added column NOT NULL: there the column stays
/// nullable and the application never leaves it empty.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("plans")
                    .add_column(string_len_null("signup_link", 32))
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        let backend = manager.get_database_backend();
        let rows = db
            .query_all_raw(Statement::from_string(
                backend,
                "SELECT id FROM plans WHERE signup_link IS NULL",
            ))
            .await?;
        for row in rows {
            let id: String = row.try_get("", "id")?;
            let sql = match backend {
                DbBackend::Postgres => "UPDATE plans SET signup_link = $1 WHERE id = $2",
                _ => "UPDATE plans SET signup_link = ? WHERE id = ?",
            };
            db.execute_raw(Statement::from_sql_and_values(
                backend,
                sql,
                [new_link().into(), id.into()],
            ))
            .await?;
        }
        if backend == DbBackend::Postgres {
            db.execute_unprepared("ALTER TABLE plans ALTER COLUMN signup_link SET NOT NULL")
                .await?;
        }
        create_indexes(
            manager,
            vec![unique_index("plans", "signup_link", &["signup_link"])],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("ux_plans_signup_link")
                    .table("plans")
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table("plans")
                    .drop_column("signup_link")
                    .to_owned(),
            )
            .await
    }
}

/// The same shape as `store::plans::new_signup_link` (this crate cannot
/// import the service's).
fn new_link() -> String {
    const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
    (0..26)
        .map(|_| char::from(ALPHABET[usize::from(rand::random::<u8>() % 32)]))
        .collect()
}

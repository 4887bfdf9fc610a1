//! Column helpers shared by the migrations, so every table spells ids,
//! money and timestamps the same way.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

/// A prefixed text id (`plan_01h...`) as primary key.
pub fn id_pk() -> ColumnDef {
    string_len("id", 64).primary_key().take()
}

/// A reference to another row's prefixed id.
pub fn id_ref(name: &str) -> ColumnDef {
    string_len(name.to_owned(), 64)
}

pub fn id_ref_null(name: &str) -> ColumnDef {
    string_len_null(name.to_owned(), 64)
}

/// An amount of millisatoshis: always an integer, never a float.
pub fn msat(name: &str) -> ColumnDef {
    big_integer(name.to_owned())
}

pub fn ts(name: &str) -> ColumnDef {
    timestamp_with_time_zone(name.to_owned())
}

pub fn ts_null(name: &str) -> ColumnDef {
    timestamp_with_time_zone_null(name.to_owned())
}

/// `created_at` and `updated_at`, set by the application from its clock.
pub fn with_timestamps(table: &mut TableCreateStatement) -> &mut TableCreateStatement {
    table.col(ts("created_at")).col(ts("updated_at"))
}

pub fn fk(from_table: &str, from_col: &str, to_table: &str) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(format!("fk_{from_table}_{from_col}"))
        .from(from_table.to_owned(), from_col.to_owned())
        .to(to_table.to_owned(), "id")
        .on_delete(ForeignKeyAction::Restrict)
        .to_owned()
}

pub fn index(table: &str, name: &str, cols: &[&str]) -> IndexCreateStatement {
    let mut idx = Index::create();
    idx.name(format!("ix_{table}_{name}"))
        .table(table.to_owned());
    for c in cols {
        idx.col((*c).to_owned());
    }
    idx.to_owned()
}

pub fn unique_index(table: &str, name: &str, cols: &[&str]) -> IndexCreateStatement {
    let mut idx = index(table, name, cols);
    idx.name(format!("ux_{table}_{name}")).unique();
    idx
}

pub async fn create_indexes(
    manager: &SchemaManager<'_>,
    indexes: Vec<IndexCreateStatement>,
) -> Result<(), DbErr> {
    for idx in indexes {
        manager.create_index(idx).await?;
    }
    Ok(())
}

pub async fn drop_tables(manager: &SchemaManager<'_>, tables: &[&str]) -> Result<(), DbErr> {
    for t in tables {
        manager
            .drop_table(Table::drop().table((*t).to_owned()).to_owned())
            .await?;
    }
    Ok(())
}

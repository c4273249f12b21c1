//! Where sign-in sessions are kept: in the database the server runs on, so that on PostgreSQL
//! every replica sees the same sessions.

use crate::db::Db;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, ExpiredDeletion, SessionStore};
use tower_sessions_sqlx_store::{PostgresStore, SqliteStore};

#[derive(Debug, Clone)]
pub enum Sessions {
    Sqlite(SqliteStore),
    Postgres(PostgresStore),
}

impl Sessions {
    /// The store for this database, its table created when missing.
    pub async fn open(db: &Db) -> anyhow::Result<Sessions> {
        Ok(match db {
            Db::Sqlite(pool, _) => {
                let store = SqliteStore::new(pool.clone());
                store.migrate().await?;
                Sessions::Sqlite(store)
            }
            Db::Postgres(pool) => {
                let store = PostgresStore::new(pool.clone());
                store.migrate().await?;
                Sessions::Postgres(store)
            }
        })
    }
}

/// A PostgreSQL session call, given up when the database does not answer (a network partition
/// keeps the socket open and silent), as every other statement is (`db::PG_ANSWER_WITHIN`).
async fn answered<T>(
    work: impl std::future::Future<Output = session_store::Result<T>>,
) -> session_store::Result<T> {
    tokio::time::timeout(crate::db::PG_ANSWER_WITHIN, work)
        .await
        .unwrap_or_else(|_| {
            Err(session_store::Error::Backend(
                "the database did not answer".to_string(),
            ))
        })
}

#[async_trait::async_trait]
impl SessionStore for Sessions {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        match self {
            Sessions::Sqlite(s) => s.create(record).await,
            Sessions::Postgres(s) => answered(s.create(record)).await,
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        match self {
            Sessions::Sqlite(s) => s.save(record).await,
            Sessions::Postgres(s) => answered(s.save(record)).await,
        }
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        match self {
            Sessions::Sqlite(s) => s.load(id).await,
            Sessions::Postgres(s) => answered(s.load(id)).await,
        }
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        match self {
            Sessions::Sqlite(s) => s.delete(id).await,
            Sessions::Postgres(s) => answered(s.delete(id)).await,
        }
    }
}

#[async_trait::async_trait]
impl ExpiredDeletion for Sessions {
    async fn delete_expired(&self) -> session_store::Result<()> {
        match self {
            Sessions::Sqlite(s) => s.delete_expired().await,
            Sessions::Postgres(s) => answered(s.delete_expired()).await,
        }
    }
}

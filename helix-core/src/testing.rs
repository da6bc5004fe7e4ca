//! Test support (feature `test-util`): real databases for tests.

use crate::store::SqlStore;

/// A fresh SQLite store in a new temporary directory (kept alive by the returned guard).
pub async fn sqlite_store() -> (SqlStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqlStore::open_sqlite_dir(dir.path())
        .await
        .expect("open sqlite");
    (store, dir)
}

/// A fresh PostgreSQL database on the server named by `HELIX_TEST_PG_URL`, migrated.
///
/// Returns `None` when that variable is unset, unless `HELIX_TEST_REQUIRE_PG=1`
/// (set by `scripts/test.sh` and CI), in which case a missing server fails the test.
pub async fn postgres_store() -> Option<SqlStore> {
    let url = postgres_url().await?;
    Some(
        SqlStore::connect(&url)
            .await
            .expect("connect to test database"),
    )
}

/// Creates a fresh database and returns its URL (see [`postgres_store`]).
pub async fn postgres_url() -> Option<String> {
    use sqlx::Connection;
    let Ok(admin_url) = std::env::var("HELIX_TEST_PG_URL") else {
        assert!(
            std::env::var("HELIX_TEST_REQUIRE_PG").as_deref() != Ok("1"),
            "HELIX_TEST_REQUIRE_PG=1 but HELIX_TEST_PG_URL is not set"
        );
        eprintln!("HELIX_TEST_PG_URL not set: PostgreSQL case not run (scripts/test.sh runs it)");
        return None;
    };
    sqlx::any::install_default_drivers();
    let name = format!(
        "helix_test_{}",
        ulid::Ulid::new().to_string().to_lowercase()
    );
    let mut conn = sqlx::AnyConnection::connect(&admin_url)
        .await
        .expect("connect to HELIX_TEST_PG_URL");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .expect("create test database");
    conn.close().await.ok();
    let base = admin_url
        .rsplit_once('/')
        .map(|(b, _)| b)
        .unwrap_or(&admin_url);
    Some(format!("{base}/{name}"))
}

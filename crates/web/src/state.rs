//! Shared server state and the bridge from async handlers to blocking database work.

use crate::error::{ApiError, ApiResult};
use dantoc_store::{Conn, Db, StoreError};
use std::net::SocketAddr;

#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub config: ServerConfig,
    /// Encrypts and decrypts personal fields.
    pub cipher: dantoc_store::personal::Cipher,
}

#[derive(Clone, Debug, Default)]
pub struct ServerConfig {
    /// Address the server listens on.
    pub bind: Option<SocketAddr>,
    /// Mark cookies `Secure` (the server is reached over HTTPS, e.g. behind a TLS proxy).
    pub secure_cookies: bool,
}

impl ServerConfig {
    /// The server listens on the loopback address only (demo accounts work only then).
    pub fn local_only(&self) -> bool {
        self.bind.is_none_or(|b| b.ip().is_loopback())
    }
}

impl AppState {
    /// Run read-only database work off the async runtime.
    pub async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut dyn Conn) -> Result<T, StoreError> + Send + 'static,
    ) -> ApiResult<T> {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || db.read(f))
            .await
            .map_err(|e| ApiError::Internal(format!("task failed: {e}")))?
            .map_err(ApiError::from)
    }

    /// Run any blocking work with the database handle (writes, imports).
    pub async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Db) -> Result<T, StoreError> + Send + 'static,
    ) -> ApiResult<T> {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || f(&db))
            .await
            .map_err(|e| ApiError::Internal(format!("task failed: {e}")))?
            .map_err(ApiError::from)
    }
}

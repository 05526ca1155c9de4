//! Reading request bodies within the size limit and the server-wide memory budget.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use http_body_util::BodyExt;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Budget unit: permits are KiB, so a `u32` permit count covers any sane budget.
const UNIT: usize = 1024;
/// How long a request waits for budget before it is refused with 503.
const BUDGET_WAIT: Duration = Duration::from_secs(5);

/// The memory budget shared by every request body in flight.
#[derive(Clone)]
pub struct BodyBudget {
    permits: Arc<Semaphore>,
}

/// Budget held by one request; released when dropped.
pub struct Reservation {
    _permits: Option<OwnedSemaphorePermit>,
}

/// Why a body could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// Larger than the limit (413).
    #[error("request body exceeds {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The server is holding its whole body budget (503).
    #[error("server is busy; retry later")]
    Busy,
    /// The client broke off or sent a malformed chunked body (400).
    #[error("cannot read request body: {0}")]
    Read(String),
}

impl BodyBudget {
    /// A budget of `bytes`.
    pub fn new(bytes: usize) -> BodyBudget {
        let permits = (bytes / UNIT).clamp(1, Semaphore::MAX_PERMITS);
        BodyBudget {
            permits: Arc::new(Semaphore::new(permits)),
        }
    }

    /// Reserves room for `bytes`, waiting a few seconds at most.
    pub async fn reserve(&self, bytes: usize) -> Result<Reservation, BodyError> {
        let units = u32::try_from(bytes.div_ceil(UNIT)).map_err(|_| BodyError::Busy)?;
        if units == 0 {
            return Ok(Reservation { _permits: None });
        }
        match tokio::time::timeout(BUDGET_WAIT, self.permits.clone().acquire_many_owned(units))
            .await
        {
            Ok(Ok(permit)) => Ok(Reservation {
                _permits: Some(permit),
            }),
            _ => Err(BodyError::Busy),
        }
    }

    /// Reads a body of at most `limit` bytes, reserving budget as the bytes arrive (all of it up
    /// front when the length is declared). Returns the bytes and the reservation covering them.
    pub async fn read(
        &self,
        body: Body,
        declared_length: Option<usize>,
        limit: usize,
    ) -> Result<(Vec<u8>, Vec<Reservation>), BodyError> {
        if declared_length.is_some_and(|n| n > limit) {
            return Err(BodyError::TooLarge { limit });
        }
        let mut reservations = Vec::new();
        let mut reserved = 0usize;
        if let Some(length) = declared_length {
            reservations.push(self.reserve(length).await?);
            reserved = length;
        }
        let mut data = Vec::with_capacity(declared_length.unwrap_or(16 * 1024).min(limit));
        let mut body = body;
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| BodyError::Read(e.to_string()))?;
            let Ok(chunk) = frame.into_data() else {
                continue;
            };
            if data.len() + chunk.len() > limit {
                return Err(BodyError::TooLarge { limit });
            }
            if data.len() + chunk.len() > reserved {
                // Reserve in steps of at least 64 KiB to keep semaphore traffic low.
                let step = (data.len() + chunk.len() - reserved).max(64 * 1024);
                reservations.push(self.reserve(step).await?);
                reserved += step;
            }
            data.extend_from_slice(&chunk);
        }
        Ok((data, reservations))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn declared_oversize_is_refused_before_reading() {
        let budget = BodyBudget::new(1 << 20);
        let result = budget
            .read(Body::from(vec![0u8; 10]), Some(10_000), 100)
            .await;
        assert!(matches!(result, Err(BodyError::TooLarge { limit: 100 })));
    }

    #[tokio::test]
    async fn streamed_oversize_is_refused() {
        let budget = BodyBudget::new(1 << 20);
        let result = budget.read(Body::from(vec![0u8; 1000]), None, 100).await;
        assert!(matches!(result, Err(BodyError::TooLarge { .. })));
    }

    #[tokio::test]
    async fn budget_is_held_until_released() {
        let budget = BodyBudget::new(64 * 1024);
        let (data, held) = budget
            .read(Body::from(vec![1u8; 60 * 1024]), Some(60 * 1024), 1 << 20)
            .await
            .unwrap();
        assert_eq!(data.len(), 60 * 1024);
        assert!(
            tokio::time::timeout(Duration::from_millis(50), budget.reserve(16 * 1024))
                .await
                .is_err()
        );
        drop(held);
        assert!(budget.reserve(16 * 1024).await.is_ok());
    }
}

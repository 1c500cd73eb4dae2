//! The HTTP admin port: `/metrics` (Prometheus), `/health`, `/status` (JSON).

use crate::metrics::Metrics;
use crate::node::{Input, Queue};
use axum::extract::Path;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

#[derive(Clone)]
struct AdminState {
    metrics: Metrics,
    inputs: Arc<dyn Queue>,
}

/// Serves the admin port on `listener`.
pub async fn serve(listener: TcpListener, metrics: Metrics, inputs: Arc<dyn Queue>) {
    let state = AdminState { metrics, inputs };
    let app = Router::new()
        .route("/metrics", get(metrics_page))
        .route("/health", get(health))
        .route("/status", get(status))
        .route("/admin/transfer/{target}", post(transfer))
        .route("/admin/membership", post(membership))
        .with_state(state);
    let _ = axum::serve(listener, app).await;
}

async fn metrics_page(State(state): State<AdminState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
}

async fn ask(state: &AdminState) -> Option<crate::node::Status> {
    let (reply, answer) = oneshot::channel();
    state.inputs.try_queue(Input::Status(reply)).ok()?;
    tokio::time::timeout(std::time::Duration::from_secs(2), answer)
        .await
        .ok()?
        .ok()
}

async fn health(State(state): State<AdminState>) -> impl IntoResponse {
    match ask(&state).await {
        Some(_) => (StatusCode::OK, "ok\n"),
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            "protocol thread not answering\n",
        ),
    }
}

async fn status(State(state): State<AdminState>) -> impl IntoResponse {
    match ask(&state).await {
        Some(s) => Json(s).into_response(),
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            "protocol thread not answering\n",
        )
            .into_response(),
    }
}

fn send(state: &AdminState, input: Input) -> bool {
    state.inputs.try_queue(input).is_ok()
}

/// `POST /admin/transfer/{id}`: the leader hands leadership to member `id`.
/// A target only a little behind the leader's log is waited for (up to 2 s, every 50 ms)
/// rather than refused: writes just before the request leave every follower a round behind.
async fn transfer(State(state): State<AdminState>, Path(target): Path<u64>) -> impl IntoResponse {
    let mut attempts = 0;
    let answer = loop {
        let (reply, answer) = oneshot::channel();
        if !send(&state, Input::Transfer { target, reply }) {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                "protocol thread not answering\n".to_string(),
            );
        }
        let answer = answer.await;
        attempts += 1;
        match &answer {
            Ok(Err(crate::protocol::TransferRefused::Behind(_))) if attempts < 40 => {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            _ => break answer,
        }
    };
    match answer {
        Ok(Ok(())) => (
            StatusCode::OK,
            format!("transferring leadership to {target}\n"),
        ),
        Ok(Err(why)) => (StatusCode::CONFLICT, format!("{why}\n")),
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "protocol thread not answering\n".to_string(),
        ),
    }
}

/// The body of `POST /admin/membership`.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct MembershipChange {
    voters: std::collections::BTreeSet<u64>,
    #[serde(default)]
    learners: std::collections::BTreeSet<u64>,
}

/// `POST /admin/membership` with `{"voters":[...],"learners":[...]}`: the leader changes the
/// membership by joint consensus.
async fn membership(State(state): State<AdminState>, body: String) -> impl IntoResponse {
    let change: MembershipChange = match serde_json::from_str(&body) {
        Ok(c) => c,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                format!("body: {e} (expected {{\"voters\":[..],\"learners\":[..]}})\n"),
            )
        }
    };
    let (reply, answer) = oneshot::channel();
    let input = Input::Membership {
        voters: change.voters,
        learners: change.learners,
        reply,
    };
    if !send(&state, input) {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "protocol thread not answering\n".to_string(),
        );
    }
    match answer.await {
        Ok(Ok(index)) => (
            StatusCode::OK,
            format!("membership change at log index {index}\n"),
        ),
        Ok(Err(why)) => (StatusCode::CONFLICT, format!("{why}\n")),
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "protocol thread not answering\n".to_string(),
        ),
    }
}

//! The HTTP admin port: `/metrics` (Prometheus), `/health`, `/status` (JSON).

use crate::metrics::Metrics;
use crate::node::Input;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

#[derive(Clone)]
struct AdminState {
    metrics: Metrics,
    inputs: Arc<Mutex<Sender<Input>>>,
}

/// Serves the admin port on `listener`.
pub async fn serve(listener: TcpListener, metrics: Metrics, inputs: Sender<Input>) {
    let state = AdminState {
        metrics,
        inputs: Arc::new(Mutex::new(inputs)),
    };
    let app = Router::new()
        .route("/metrics", get(metrics_page))
        .route("/health", get(health))
        .route("/status", get(status))
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
    state.inputs.lock().ok()?.send(Input::Status(reply)).ok()?;
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

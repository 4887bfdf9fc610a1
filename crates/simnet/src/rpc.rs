//! bitcoind's HTTP JSON-RPC front: POST with HTTP Basic auth (401 without
//! it), JSON-RPC 1.0 envelopes `{"result", "error", "id"}` (and batches),
//! errors with bitcoind's HTTP statuses (404 unknown method, 400 invalid
//! request, 500 otherwise).

use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};

use actix_web::dev::ServerHandle;
use actix_web::http::StatusCode;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use base64::Engine;
use bitcoin::hashes::{Hash, sha256};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

use super::error::{RpcError, SimnetError, code};
use super::methods;
use super::state::State;

struct Shared {
    state: Arc<Mutex<State>>,
    /// SHA-256 of "user:password", compared against the request's.
    credentials: sha256::Hash,
}

/// The running HTTP server.
pub struct RpcServer {
    pub address: SocketAddr,
    pub handle: ServerHandle,
    pub task: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// Binds `listen` and serves the RPC until the handle is stopped.
pub fn start(
    listen: SocketAddr,
    state: Arc<Mutex<State>>,
    user: &str,
    password: &SecretString,
) -> Result<RpcServer, SimnetError> {
    let listen_error = |source| SimnetError::Listen {
        address: listen,
        source,
    };
    let listener = TcpListener::bind(listen).map_err(listen_error)?;
    let address = listener.local_addr().map_err(listen_error)?;
    let credentials = sha256::Hash::hash(format!("{user}:{}", password.expose_secret()).as_bytes());
    let shared = web::Data::new(Shared { state, credentials });
    let server = HttpServer::new(move || {
        App::new()
            .app_data(shared.clone())
            .app_data(web::PayloadConfig::new(32 * 1024 * 1024))
            .default_service(web::to(handle))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)
    .map_err(listen_error)?
    .run();
    let handle = server.handle();
    let task = tokio::spawn(server);
    Ok(RpcServer {
        address,
        handle,
        task,
    })
}

fn authorized(req: &HttpRequest, expected: &sha256::Hash) -> bool {
    let Some(header) = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
    else {
        return false;
    };
    let Some(encoded) = header.strip_prefix("Basic ") else {
        return false;
    };
    match base64::engine::general_purpose::STANDARD.decode(encoded.trim()) {
        Ok(decoded) => sha256::Hash::hash(&decoded) == *expected,
        Err(_) => false,
    }
}

async fn handle(req: HttpRequest, body: web::Bytes, shared: web::Data<Shared>) -> HttpResponse {
    if req.method() != actix_web::http::Method::POST {
        return HttpResponse::MethodNotAllowed().body("JSONRPC server handles only POST requests");
    }
    if !authorized(&req, &shared.credentials) {
        return HttpResponse::Unauthorized()
            .insert_header(("WWW-Authenticate", r#"Basic realm="jsonrpc""#))
            .finish();
    }
    let request: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(_) => {
            return reply(
                StatusCode::INTERNAL_SERVER_ERROR,
                envelope(
                    Value::Null,
                    Err(RpcError::new(code::PARSE_ERROR, "Parse error")),
                ),
            );
        }
    };
    let state = shared.state.clone();
    // Calls may fsync the block file: run them off the server's thread.
    let outcome = web::block(move || match request {
        Value::Array(batch) => (
            StatusCode::OK,
            Value::Array(batch.iter().map(|r| one(&state, r).1).collect()),
        ),
        single => one(&state, &single),
    })
    .await;
    match outcome {
        Ok((status, body)) => reply(status, body),
        Err(_) => reply(
            StatusCode::INTERNAL_SERVER_ERROR,
            envelope(
                Value::Null,
                Err(RpcError::new(code::MISC_ERROR, "internal error")),
            ),
        ),
    }
}

/// Runs one request object; its HTTP status as bitcoind would send it alone.
fn one(state: &Mutex<State>, request: &Value) -> (StatusCode, Value) {
    let id = request.get("id").cloned().unwrap_or(Value::Null);
    let result = (|| {
        let object = request
            .as_object()
            .ok_or_else(|| RpcError::new(code::INVALID_REQUEST, "Invalid Request object"))?;
        let method = object
            .get("method")
            .and_then(Value::as_str)
            .ok_or_else(|| RpcError::new(code::INVALID_REQUEST, "Method must be a string"))?;
        let params = match object.get("params") {
            None | Some(Value::Null) => &[][..],
            Some(Value::Array(list)) => list.as_slice(),
            Some(_) => {
                return Err(RpcError::new(
                    code::INVALID_REQUEST,
                    "Params must be an array (named parameters are not supported by the simnet)",
                ));
            }
        };
        methods::call(state, method, params)
    })();
    let status = match &result {
        Ok(_) => StatusCode::OK,
        Err(e) if e.code == code::INVALID_REQUEST => StatusCode::BAD_REQUEST,
        Err(e) if e.code == code::METHOD_NOT_FOUND => StatusCode::NOT_FOUND,
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    (status, envelope(id, result))
}

fn envelope(id: Value, result: Result<Value, RpcError>) -> Value {
    match result {
        Ok(result) => json!({ "result": result, "error": null, "id": id }),
        Err(e) => json!({
            "result": null,
            "error": { "code": e.code, "message": e.message },
            "id": id,
        }),
    }
}

fn reply(status: StatusCode, body: Value) -> HttpResponse {
    let mut text = body.to_string();
    text.push('\n');
    HttpResponse::build(status)
        .content_type("application/json")
        .body(text)
}

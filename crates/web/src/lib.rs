//! The dantoc HTTP server: the JSON API (native and DHIS2-compatible), and server-rendered
//! pages. Handlers stay thin: they parse the request, call the store in a blocking task,
//! and map errors in one place (`error.rs`).

pub mod account_pages;
pub mod analytics_pages;
pub mod api;
pub mod approval_pages;
pub mod auth;
pub mod entry_pages;
pub mod error;
pub mod form_editor;
pub mod form_pages;
pub mod i18n;
pub mod map_page;
pub mod pages;
pub mod params;
pub mod state;
pub mod validation_pages;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, header};
use axum::routing::{get, post};
use state::{AppState, ServerConfig};
use std::net::SocketAddr;
use std::time::Duration;
use tower_http::set_header::SetResponseHeaderLayer;

/// Largest request body accepted on import routes (DHIS2 JSON, CSV).
pub const IMPORT_BODY_LIMIT: usize = 256 * 1024 * 1024;
/// Largest request body elsewhere.
pub const BODY_LIMIT: usize = 2 * 1024 * 1024;
/// Largest form file (a form's xlsx takes tens of kilobytes).
pub const FORM_FILE_LIMIT: usize = 16 * 1024 * 1024;

pub fn router(state: AppState) -> Router {
    use api::{accounts as a, reference as r, values as v};
    let imports = Router::new()
        .route(
            "/api/dataValueSets",
            post(v::post_data_value_sets).get(v::get_data_value_sets),
        )
        .route(
            "/api/dataValues",
            post(v::post_batch)
                .put(v::put_one)
                .delete(v::delete_one)
                .get(v::list),
        )
        .route("/api/dataValues/csv", post(v::post_csv))
        .route(
            "/api/dhis2/uids",
            get(api::dhis2::list)
                .put(api::dhis2::put)
                .delete(api::dhis2::delete),
        )
        .route("/api/dhis2/uids.csv", post(api::dhis2::post_csv))
        .layer(DefaultBodyLimit::max(IMPORT_BODY_LIMIT));
    let form_files = Router::new()
        .route(
            "/api/forms/{code}/import.xlsx",
            post(api::forms::import_xlsx),
        )
        .route("/api/forms/{code}/import.csv", post(api::forms::import_csv))
        .layer(DefaultBodyLimit::max(FORM_FILE_LIMIT));
    let rest = Router::new()
        .route("/api/health", get(r::health))
        .route("/api/auth/login", post(a::login))
        .route("/api/auth/logout", post(a::logout))
        .route("/api/me", get(a::me))
        .route("/api/users", get(a::list_users).post(a::create_user))
        .route("/api/users/{username}", axum::routing::put(a::update_user))
        .route("/api/tokens", get(a::list_tokens).post(a::create_token))
        .route("/api/tokens/{id}", axum::routing::delete(a::revoke_token))
        .route("/api/audit", get(a::audit_log))
        .route("/api/audit.csv", get(a::audit_csv))
        .route("/api/publish", post(v::publish))
        .route(
            "/dang-nhap",
            get(account_pages::login_form).post(account_pages::login_submit),
        )
        .route("/dang-xuat", post(account_pages::logout_submit))
        .route(
            "/quan-tri/nguoi-dung",
            get(account_pages::users).post(account_pages::users_create),
        )
        .route(
            "/quan-tri/nguoi-dung/{username}",
            post(account_pages::users_update),
        )
        .route("/api/openapi.json", get(api::openapi))
        .route("/api/units", get(r::list_units))
        .route("/api/units/{code}", get(r::get_unit))
        .route("/api/units/{code}/children", get(r::unit_children))
        .route("/api/units/{code}/ancestors", get(r::unit_ancestors))
        .route(
            "/api/units/{code}/lineage",
            get(r::unit_lineage).put(r::set_lineage_weights),
        )
        .route("/api/units/{code}/villages", post(r::create_village))
        .route("/api/units.geojson", get(api::ogc::units_geojson))
        .route("/api/units/at", get(api::ogc::units_at))
        .route("/api/units/near", get(api::ogc::units_near))
        .route(
            "/api/units/{code}/villages.geojson",
            get(api::ogc::unit_villages),
        )
        .route("/ogcapi", get(api::ogc::landing))
        .route("/ogcapi/conformance", get(api::ogc::conformance))
        .route("/ogcapi/collections", get(api::ogc::collections))
        .route("/ogcapi/collections/{id}", get(api::ogc::collection))
        .route("/ogcapi/collections/{id}/items", get(api::ogc::items))
        .route(
            "/ogcapi/collections/{id}/items/{feature}",
            get(api::ogc::item),
        )
        .route("/api/ethnic-groups", get(r::list_ethnic))
        .route("/api/ethnic-groups/{code}", get(r::get_ethnic))
        .route(
            "/api/indicators",
            get(r::list_indicators).post(r::create_indicator),
        )
        .route(
            "/api/indicators/{code}",
            get(r::get_indicator).put(r::update_indicator),
        )
        .route("/api/dataValues.csv", get(v::export_csv))
        .route("/api/analytics", get(api::analytics::dhis2))
        .route("/api/analytics.json", get(api::analytics::dhis2))
        .route("/api/analytics.svg", get(api::analytics::svg))
        .route("/api/pivot", get(api::analytics::native))
        .route("/api/maps/choropleth.svg", get(api::maps::svg))
        .route("/api/maps/choropleth.png", get(api::maps::png))
        .route("/api/maps/boundaries.json", get(map_page::boundaries))
        .route("/api/analytics.csv", get(api::analytics::csv))
        .route("/api/analytics.xlsx", get(api::analytics::xlsx))
        .route("/api/analytics.sdmx.csv", get(api::analytics::sdmx))
        .route(
            "/api/targets",
            get(api::analytics::targets).put(api::analytics::set_target),
        )
        .route(
            "/api/reportTables",
            get(api::analytics::report_tables).post(api::analytics::create_report_table),
        )
        .route(
            "/api/reportTables/{id}",
            get(api::analytics::report_table)
                .put(api::analytics::update_report_table)
                .delete(api::analytics::delete_report_table),
        )
        .route("/api/dataValues/history", get(v::history))
        .route("/api/forms", get(api::forms::list))
        .route("/api/forms/{code}/entry", get(api::entry::grid))
        .route("/api/dataEntry", post(api::entry::save))
        .route("/nhap-lieu", get(entry_pages::list))
        .route("/nhap-lieu/sw.js", get(entry_pages::service_worker))
        .route(
            "/nhap-lieu/{form}",
            get(entry_pages::page).post(entry_pages::post),
        )
        .route("/static/entry.js", get(entry_pages::entry_js))
        .route(
            "/api/forms/{code}",
            get(api::forms::get)
                .put(api::forms::put)
                .delete(api::forms::delete),
        )
        .route(
            "/bieu-mau/moi",
            get(form_editor::new_form).post(form_editor::create_form),
        )
        .route(
            "/bieu-mau/{code}/sua",
            get(form_editor::edit_form).post(form_editor::update_form),
        )
        .route(
            "/api/validationRules",
            get(api::validation::list_rules).post(api::validation::create_rule),
        )
        .route(
            "/api/validationRules/{code}",
            get(api::validation::get_rule)
                .put(api::validation::update_rule)
                .delete(api::validation::delete_rule),
        )
        .route("/api/validation", get(api::validation::report))
        .route("/api/validation.csv", get(api::validation::report_csv))
        .route("/kiem-tra", get(validation_pages::page))
        .route(
            "/api/forms/{code}/template.xlsx",
            get(api::forms::template_xlsx),
        )
        .route("/bieu-mau", get(form_pages::forms_page))
        .route("/static/form-files.js", get(form_pages::script))
        .route(
            "/api/approvals",
            get(api::approvals::list).post(api::approvals::post),
        )
        .route("/api/completeness", get(api::approvals::completeness))
        .route(
            "/api/completeness.csv",
            get(api::approvals::completeness_csv),
        )
        .route("/api/completeness/overdue", get(api::approvals::overdue))
        .route(
            "/phe-duyet",
            get(approval_pages::approvals_page).post(approval_pages::approvals_submit),
        )
        .route("/tien-do", get(approval_pages::progress_page))
        .route("/", get(pages::home))
        .route("/phan-tich", get(analytics_pages::pivot_page))
        .route("/muc-tieu", get(analytics_pages::targets_page))
        .route("/bao-cao", get(analytics_pages::reports_page))
        .route("/bao-cao/{id}", get(analytics_pages::open_report))
        .route("/bang-dieu-khien", get(analytics_pages::dashboard))
        .route("/ban-do", get(map_page::page))
        .route("/static/map.js", get(map_page::script))
        .route("/static/pivot.js", get(analytics_pages::pivot_js))
        .route("/don-vi/{code}", get(pages::unit))
        .route("/tim-kiem", get(pages::search))
        .route("/chi-tieu", get(pages::indicators_page))
        .route("/dan-toc", get(pages::ethnic_page))
        .route("/static/app.css", get(pages::stylesheet))
        .route("/static/icon.svg", get(pages::icon))
        .route("/favicon.ico", get(pages::icon))
        .layer(DefaultBodyLimit::max(BODY_LIMIT));
    Router::new()
        .merge(imports)
        .merge(form_files)
        .merge(rest)
        .fallback(pages::fallback)
        .with_state(state)
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(300),
        ))
        .layer(axum::middleware::from_fn(read_small_bodies))
        .layer(tower_http::catch_panic::CatchPanicLayer::new())
        // the map page sets its own (the site's, with OpenStreetMap's tiles as images)
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
            ),
        ))
        .layer(SetResponseHeaderLayer::overriding(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")))
        .layer(SetResponseHeaderLayer::overriding(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")))
        // the map page asks for the origin to be sent to OpenStreetMap's tile servers, as their
        // usage policy wants
        .layer(SetResponseHeaderLayer::if_not_present(header::REFERRER_POLICY, HeaderValue::from_static("same-origin")))
        // gzip at its fastest level: a page of 1,000 boundaries (2–5 MB of GeoJSON) takes
        // 150–200 ms to compress at the default level, about a fifth of that at this one, for
        // answers a fifth larger
        .layer(
            tower_http::compression::CompressionLayer::new()
                .quality(tower_http::CompressionLevel::Fastest),
        )
}

/// Read a small request body (up to the general limit) before anything answers. A request
/// refused before its body is read — 401 for an expired token, 403 — would otherwise be
/// answered while the client is still sending, and the connection closed under it: the client
/// sees "peer disconnected" instead of the answer. Large bodies (imports) stream as before.
async fn read_small_bodies(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let small = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok())
        .is_some_and(|n| n > 0 && n <= BODY_LIMIT);
    if !small {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    match axum::body::to_bytes(body, BODY_LIMIT).await {
        Ok(bytes) => {
            next.run(axum::extract::Request::from_parts(
                parts,
                axum::body::Body::from(bytes),
            ))
            .await
        }
        Err(_) => crate::error::ApiError::bad("body", "the request body could not be read")
            .into_response(),
    }
}

/// Serve on a bound listener until the process is stopped (Ctrl-C or SIGTERM).
pub async fn serve_on(
    listener: tokio::net::TcpListener,
    db: dantoc_store::Db,
    config: ServerConfig,
    cipher: dantoc_store::personal::Cipher,
) -> std::io::Result<()> {
    tokio::spawn(refresher(db.clone()));
    let app = router(AppState { db, config, cipher });
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown())
    .await
}

/// Keeps the analytics pre-aggregates fresh: pivots read pairs written since the last refresh
/// from the values themselves, so this only keeps them fast.
async fn refresher(db: dantoc_store::Db) {
    // small batches: on SQLite each one holds the single writer (about 0.2 s a pair on 40 M values)
    const BATCH: usize = 4;
    let mut worked = false;
    loop {
        let d = db.clone();
        let done =
            tokio::task::spawn_blocking(move || dantoc_store::analytics::refresh(&d, BATCH)).await;
        match done {
            Ok(Ok(n)) if n == BATCH => {
                worked = true;
                continue;
            }
            Ok(Ok(n)) if n > 0 || worked => {
                // a burst is over: give back what rebuilding took (caches, heap)
                worked = false;
                let d = db.clone();
                let _ = tokio::task::spawn_blocking(move || d.release_memory()).await;
            }
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::warn!("analytics refresh failed: {e}"),
            Err(e) => tracing::warn!("analytics refresh task failed: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

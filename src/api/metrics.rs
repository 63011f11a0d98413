//! `GET /metrics` in Prometheus text (SPEC §4): requests by route and status, latency, and
//! the flow's events. Every answer passes the envelope middleware, which reports it here
//! once, so no handler counts anything itself.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::web;
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, Opts, Registry, TextEncoder,
};

use super::AppState;
use super::errors::ErrorCode;

pub const METRICS_PATH: &str = "/metrics";

/// The service's metrics, in their own registry (one per app, so tests do not share one).
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    issued: IntCounterVec,
    codes_redeemed: IntCounter,
    replays: IntCounter,
    auth_failures: IntCounterVec,
    rate_limited: IntCounter,
}

/// What one answered request tells the metrics.
pub struct Observation<'a> {
    /// The route pattern that matched (bounded cardinality), or `unmatched`.
    pub route: &'a str,
    pub method: &'a str,
    pub status: StatusCode,
    pub error: Option<ErrorCode>,
    pub seconds: f64,
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new_custom(Some("obie".into()), None).expect("valid prefix");
        let requests = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "Requests answered, by route, method and status.",
            ),
            &["route", "method", "status"],
        )
        .expect("valid metric");
        let buckets = vec![
            0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
        ];
        let latency = HistogramVec::new(
            HistogramOpts::new("http_request_duration_seconds", "Time to answer, by route.")
                .buckets(buckets),
            &["route"],
        )
        .expect("valid metric");
        let issued = IntCounterVec::new(
            Opts::new(
                "issued_total",
                "Credentials issued, by kind: ccg_token, auth_code, access_token.",
            ),
            &["kind"],
        )
        .expect("valid metric");
        let codes_redeemed =
            IntCounter::new("codes_redeemed_total", "Authorization codes redeemed.")
                .expect("valid metric");
        let replays = IntCounter::new(
            "code_replays_total",
            "Replayed authorization codes (their tokens revoked).",
        )
        .expect("valid metric");
        let auth_failures = IntCounterVec::new(
            Opts::new(
                "auth_failures_total",
                "Failed authentications (401s), by error code.",
            ),
            &["code"],
        )
        .expect("valid metric");
        let rate_limited = IntCounter::new("rate_limited_total", "Requests refused with 429.")
            .expect("valid metric");
        for collector in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(latency.clone()),
            Box::new(issued.clone()),
            Box::new(codes_redeemed.clone()),
            Box::new(replays.clone()),
            Box::new(auth_failures.clone()),
            Box::new(rate_limited.clone()),
        ] {
            registry.register(collector).expect("unique metric names");
        }
        Metrics {
            registry,
            requests,
            latency,
            issued,
            codes_redeemed,
            replays,
            auth_failures,
            rate_limited,
        }
    }

    pub fn observe(&self, o: &Observation<'_>) {
        self.requests
            .with_label_values(&[o.route, o.method, o.status.as_str()])
            .inc();
        self.latency
            .with_label_values(&[o.route])
            .observe(o.seconds);
        if o.status == StatusCode::UNAUTHORIZED {
            let code = o.error.map_or("unknown", ErrorCode::as_str);
            self.auth_failures.with_label_values(&[code]).inc();
        }
        match (o.status, o.error) {
            (StatusCode::TOO_MANY_REQUESTS, _) => self.rate_limited.inc(),
            (_, Some(ErrorCode::AuthCodeUsed)) => self.replays.inc(),
            (StatusCode::CREATED, _) => self.count_issued(o.route),
            _ => {}
        }
    }

    fn count_issued(&self, route: &str) {
        let kind = match route {
            "/v1/oauth2/tokens" => "ccg_token",
            "/v1/obie/authorization_codes" => "auth_code",
            "/v1/obie/tokens" => {
                self.codes_redeemed.inc();
                "access_token"
            }
            _ => return,
        };
        self.issued.with_label_values(&[kind]).inc();
    }

    fn render(&self) -> String {
        let mut text = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut text)
            .expect("text encoding");
        String::from_utf8(text).expect("Prometheus text is UTF-8")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

/// `GET /metrics`.
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(state.metrics.render())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn observe(metrics: &Metrics, route: &str, status: u16, error: Option<ErrorCode>) {
        let status = StatusCode::from_u16(status).unwrap();
        metrics.observe(&Observation {
            route,
            method: "POST",
            status,
            error,
            seconds: 0.002,
        });
    }

    #[test]
    fn flow_events_are_counted_from_answers() {
        let metrics = Metrics::new();
        observe(&metrics, "/v1/obie/tokens", 201, None);
        observe(
            &metrics,
            "/v1/obie/tokens",
            400,
            Some(ErrorCode::AuthCodeUsed),
        );
        observe(
            &metrics,
            "/v1/oauth2/tokens",
            401,
            Some(ErrorCode::AuthenticationFailed),
        );
        observe(
            &metrics,
            "/v1/oauth2/tokens",
            429,
            Some(ErrorCode::RateLimited),
        );

        let text = metrics.render();

        assert!(text.contains("obie_codes_redeemed_total 1"), "{text}");
        assert!(text.contains("obie_code_replays_total 1"));
        assert!(text.contains(r#"obie_issued_total{kind="access_token"} 1"#));
        assert!(text.contains(r#"obie_auth_failures_total{code="authentication_failed"} 1"#));
        assert!(text.contains("obie_rate_limited_total 1"));
        assert!(text.contains(
            r#"obie_http_requests_total{method="POST",route="/v1/obie/tokens",status="201"} 1"#
        ));
        assert!(text.contains("obie_http_request_duration_seconds_bucket"));
    }
}

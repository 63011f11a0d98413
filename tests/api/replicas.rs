//! Many replicas on one PostgreSQL (SPEC §8): three `obie-tokens` processes share a fresh
//! database, and every invariant of SPEC §6 holds across them.

use std::time::Duration;

use obie_tokens::domain::sandbox;
use reqwest::{Client, Response};
use serde_json::{Value, json};

use crate::pg::TestDatabase;
use crate::process::{self, Server as Replica};

struct Cluster {
    replicas: Vec<Replica>,
    client: Client,
    database: TestDatabase,
}

impl Cluster {
    async fn start() -> Option<Cluster> {
        let database = TestDatabase::create().await?;
        // Started together, as a deployment would: migrations and seeding race on purpose.
        let url = database.url.clone();
        let starts = (0..3).map(|_| {
            let url = url.clone();
            std::thread::spawn(move || Replica::start(&url))
        });
        let replicas = starts
            .collect::<Vec<_>>()
            .into_iter()
            .map(|h| h.join().unwrap())
            .collect();
        Some(Cluster {
            replicas,
            client: Client::new(),
            database,
        })
    }

    async fn post(&self, replica: usize, path: &str, ccg: Option<&str>, body: Value) -> Response {
        let mut request = self
            .client
            .post(format!("{}{path}", self.replicas[replica % 3].base))
            .header("Authorization", sandbox::AUTHORIZATION)
            .header("fi_reference_id", sandbox::FI_REFERENCE_ID)
            .header("version", "1")
            .json(&body);
        if let Some(token) = ccg {
            request = request.header("ccg_token", token);
        }
        request.send().await.unwrap()
    }

    async fn new_code(&self, replica: usize) -> String {
        let body = json!({"redirect_uri": "https://www.google.com"});
        let response = self
            .post(
                replica,
                "/v1/obie/authorization_codes",
                Some(sandbox::CCG_TOKEN),
                body,
            )
            .await;
        assert_eq!(response.status(), 201);
        data(response).await["auth_code"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    async fn exchange(&self, replica: usize, code: &str) -> Response {
        let body = json!({"auth_code": code, "redirect_uri": "https://www.google.com"});
        self.post(replica, "/v1/obie/tokens", Some(sandbox::CCG_TOKEN), body)
            .await
    }

    async fn is_active(&self, replica: usize, token: &str) -> bool {
        let body = json!({"access_token": token});
        let response = self
            .post(replica, "/v1/obie/tokens/introspection", None, body)
            .await;
        data(response).await["active"].as_bool().unwrap()
    }

    fn cli(&self, args: &[&str]) {
        process::cli(&self.database.url, args, "warn");
    }
}

async fn data(response: Response) -> Value {
    response.json::<Value>().await.unwrap()["data"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codes_raced_across_three_replicas_are_each_redeemed_exactly_once() {
    let Some(cluster) = Cluster::start().await else {
        return;
    };
    for batch in 0..5 {
        let codes: Vec<String> =
            futures::future::join_all((0..10).map(|i| cluster.new_code(batch + i))).await;

        let races = codes.iter().map(|code| {
            let attempts = (0..8).map(|r| cluster.exchange(r, code));
            futures::future::join_all(attempts)
        });
        let outcomes = futures::future::join_all(races).await;

        for (code, responses) in codes.iter().zip(outcomes) {
            let statuses: Vec<u16> = responses.iter().map(|r| r.status().as_u16()).collect();
            let created = statuses.iter().filter(|s| **s == 201).count();
            assert_eq!(created, 1, "code {code}: {statuses:?}");
            assert_eq!(
                statuses.iter().filter(|s| **s == 400).count(),
                7,
                "{statuses:?}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_from_one_replica_is_active_on_all_until_revoked_on_any() {
    let Some(cluster) = Cluster::start().await else {
        return;
    };
    let code = cluster.new_code(0).await;
    let issued = cluster.exchange(1, &code).await;
    assert_eq!(issued.status(), 201);
    let token = data(issued).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    for replica in 0..3 {
        assert!(
            cluster.is_active(replica, &token).await,
            "active on replica {replica}"
        );
    }

    let revoked = cluster
        .post(
            2,
            "/v1/obie/tokens/revocation",
            None,
            json!({"access_token": token}),
        )
        .await;
    assert_eq!(revoked.status(), 204);

    // No replica caches token state, so the documented staleness bound is zero.
    for replica in 0..3 {
        assert!(
            !cluster.is_active(replica, &token).await,
            "revoked on replica {replica}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_psp_withdrawn_with_the_cli_stops_ccg_issuance_on_every_replica() {
    let Some(cluster) = Cluster::start().await else {
        return;
    };
    let psp = ["--psp-id", "PSDGB-FCA-424242"];
    cluster.cli(
        &[
            &["psp", "register"][..],
            &psp,
            &[
                "--name",
                "Replica PSP",
                "--redirect-uri",
                "https://r.example/cb",
            ],
        ]
        .concat(),
    );
    let ask = json!({"grant_type": "client_credentials", "psp_id": "PSDGB-FCA-424242"});
    for replica in 0..3 {
        let response = cluster
            .post(replica, "/v1/oauth2/tokens", None, ask.clone())
            .await;
        assert_eq!(response.status(), 201, "issued on replica {replica}");
    }

    cluster.cli(&[&["psp", "withdraw"][..], &psp].concat());
    let withdrawn = std::time::Instant::now();

    // Replicas may serve PSP status from their cache for up to its lifetime (1 s by
    // default, the documented bound); after that every one of them refuses. The bound is
    // a promise about requests sent after it, so a request is judged by when it was sent:
    // on a loaded machine an earlier one may be answered late.
    for replica in 0..3 {
        loop {
            let sent = withdrawn.elapsed();
            let response = cluster
                .post(replica, "/v1/oauth2/tokens", None, ask.clone())
                .await;
            if response.status() == 403 {
                let body: Value = response.json().await.unwrap();
                assert_eq!(body["errors"][0]["code"], "psp_not_authorised");
                break;
            }
            assert_eq!(response.status(), 201);
            assert!(
                sent < Duration::from_millis(1200),
                "replica {replica} still issued to a request sent {sent:?} after the withdrawal"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

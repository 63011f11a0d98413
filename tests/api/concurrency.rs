//! Single use of authorization codes (SPEC §4, RFC 6749 §4.1.2): of any number of
//! concurrent redemptions exactly one wins, and every replay revokes the winner's token.

use futures::future::join_all;
use serde_json::{Value, json};

use crate::helpers::{TestApp, access_token, error_codes};

const GOOGLE: &str = "https://www.google.com";
const RACERS: usize = 32;
const CODES: usize = 20;

#[tokio::test]
async fn redeeming_a_code_twice_revokes_the_first_token() {
    let app = TestApp::spawn().await;
    let code = app.new_code().await;
    let token = access_token(app.exchange(&code, GOOGLE).await).await;
    assert_eq!(app.introspect(&token).await["active"], true);

    let replay = app.exchange(&code, GOOGLE).await;

    assert_eq!(error_codes(replay, 400).await, ["auth_code_used"]);
    assert_eq!(app.introspect(&token).await, json!({"active": false}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_redemptions_of_one_code_give_exactly_one_token_and_revoke_it() {
    let app = TestApp::spawn().await;

    for round in 0..CODES {
        // Arrange
        let code = app.new_code().await;

        // Act: all racers at once.
        let responses = join_all((0..RACERS).map(|_| app.exchange(&code, GOOGLE))).await;

        // Assert: one 201, the rest replays; the winner's token ends up revoked.
        let mut winners = Vec::new();
        let mut replays = 0;
        for response in responses {
            if response.status() == 201 {
                let body: Value = response.json().await.unwrap();
                winners.push(body["data"]["access_token"].as_str().unwrap().to_owned());
            } else {
                assert_eq!(
                    error_codes(response, 400).await,
                    ["auth_code_used"],
                    "round {round}"
                );
                replays += 1;
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: exactly one winner");
        assert_eq!(replays, RACERS - 1, "round {round}");
        assert_eq!(
            app.introspect(&winners[0]).await,
            json!({"active": false}),
            "round {round}: the replays revoked the winner's token"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_redemptions_of_different_codes_all_succeed() {
    let app = TestApp::spawn().await;
    let codes = join_all((0..RACERS).map(|_| app.new_code())).await;

    let responses = join_all(codes.iter().map(|code| app.exchange(code, GOOGLE))).await;

    let tokens = join_all(responses.into_iter().map(access_token)).await;
    for token in &tokens {
        assert_eq!(app.introspect(token).await["active"], true);
    }
    let distinct: std::collections::HashSet<_> = tokens.iter().collect();
    assert_eq!(distinct.len(), RACERS);
}

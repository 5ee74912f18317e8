//! A real server on a free loopback port, over a throwaway database of either engine,
//! and a plain HTTP client.

#![allow(dead_code)]

use dantoc_store::testing::TestDb;
use serde_json::Value;

pub struct Server {
    pub base: String,
    pub db: TestDb,
    agent: ureq::Agent,
}

pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

pub fn start(db: TestDb) -> Server {
    start_with(db, None)
}

pub fn start_with(db: TestDb, api_token: Option<String>) -> Server {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let addr = listener.local_addr().expect("addr");
    let handle = db.db.clone();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let l = tokio::net::TcpListener::from_std(listener).expect("listener");
            let config = dantoc_web::state::ServerConfig {
                bind: Some(addr),
                api_token,
            };
            dantoc_web::serve_on(l, handle, config)
                .await
                .expect("serve");
        });
    });
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    Server {
        base: format!("http://{addr}"),
        db,
        agent,
    }
}

fn reply(r: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Reply {
    let mut r = r.expect("HTTP exchange");
    let status = r.status().as_u16();
    let headers = r
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    let body = r.body_mut().read_to_string().unwrap_or_default();
    Reply {
        status,
        headers,
        body,
    }
}

impl Server {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
    pub fn get(&self, path: &str) -> Reply {
        reply(self.agent.get(&self.url(path)).call())
    }
    pub fn post(&self, path: &str, content_type: &str, body: &str) -> Reply {
        reply(
            self.agent
                .post(&self.url(path))
                .header("Content-Type", content_type)
                .send(body),
        )
    }
    pub fn post_json(&self, path: &str, body: &Value) -> Reply {
        self.post(path, "application/json", &body.to_string())
    }
    pub fn put_json(&self, path: &str, body: &Value) -> Reply {
        reply(
            self.agent
                .put(&self.url(path))
                .header("Content-Type", "application/json")
                .send(body.to_string()),
        )
    }
    pub fn put_json_auth(&self, path: &str, body: &Value, token: &str) -> Reply {
        reply(
            self.agent
                .put(&self.url(path))
                .header("Content-Type", "application/json")
                .header("Authorization", &format!("Bearer {token}"))
                .send(body.to_string()),
        )
    }
    pub fn delete(&self, path: &str) -> Reply {
        reply(self.agent.delete(&self.url(path)).call())
    }
    pub fn count_values(&self) -> i64 {
        self.db.read(dantoc_store::values::count).expect("count")
    }
}

//! Tests only: run an independent reader from `tests/python/` on a file this crate wrote and
//! parse the JSON it prints. The interpreter is `DANTOC_TEST_PYTHON` (scripts/test.sh makes a
//! venv with tests/python/requirements.txt and sets it); without it these tests fail.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn interpreter(module: &str) -> String {
    let python = std::env::var("DANTOC_TEST_PYTHON").unwrap_or_else(|_| {
        panic!(
            "DANTOC_TEST_PYTHON is not set: these tests read the outputs back with Python \
             readers ({module}). Run scripts/test.sh, or make a venv yourself: \
             python3 -m venv target/pytest-venv && target/pytest-venv/bin/pip install -r \
             tests/python/requirements.txt && export \
             DANTOC_TEST_PYTHON=$PWD/target/pytest-venv/bin/python"
        )
    });
    let check = Command::new(&python)
        .args(["-c", &format!("import {module}")])
        .output()
        .unwrap_or_else(|e| panic!("DANTOC_TEST_PYTHON={python} cannot be run: {e}"));
    assert!(
        check.status.success(),
        "DANTOC_TEST_PYTHON={python} cannot import {module}: install \
         tests/python/requirements.txt into it (scripts/test.sh does). {}",
        String::from_utf8_lossy(&check.stderr)
    );
    python
}

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/python")
        .join(name)
}

/// Run `tests/python/<script> <file>` with the test interpreter (which must import `module`)
/// and return the JSON it prints.
pub(crate) fn run(module: &str, script_name: &str, file: &Path) -> Value {
    let python = interpreter(module);
    let out = Command::new(&python)
        .arg(script(script_name))
        .arg(file)
        .output()
        .unwrap_or_else(|e| panic!("running {script_name}: {e}"));
    assert!(
        out.status.success(),
        "{script_name} failed on {}:\n{}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{script_name} printed no JSON ({e}):\n{}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

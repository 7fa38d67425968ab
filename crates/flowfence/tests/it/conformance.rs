//! Third-party flow log samples (Elastic Beats, Elastic's integration) with the values a
//! conformant parser must produce: `../shared/conformance/cases.jsonl`.

use serde_json::Value;

use crate::common::parse_with_stats;

#[test]
fn every_conformance_case() {
    let Some(dir) = flowfence_testdata::shared("conformance") else {
        return;
    };
    let cases = std::fs::read_to_string(dir.join("cases.jsonl")).unwrap();
    let mut checked = 0;
    let mut failures = Vec::new();
    for line in cases.lines().filter(|l| !l.trim().is_empty()) {
        let case: Value = serde_json::from_str(line).unwrap();
        let id = case["id"].as_str().unwrap();
        let input = dir.join(case["input"].as_str().unwrap());
        let mut args = vec![input.to_str().unwrap().to_string()];
        if let Some(format) = case["format"].as_str() {
            args.extend(["--log-format".to_string(), format.to_string()]);
        }
        match case["envelope"].as_str().unwrap() {
            "text" => {}
            "message-json" => args.extend(["--input-format".into(), "json-lines".into()]),
            "cloudwatch" => args.extend(["--input-format".into(), "cloudwatch-json".into()]),
            other => panic!("{id}: unknown envelope {other}"),
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (records, stats) = parse_with_stats(&args, None);

        let expected = case["records"].as_array().unwrap();
        if records.len() != expected.len() {
            failures.push(format!(
                "{id}: {} records, expected {}",
                records.len(),
                expected.len()
            ));
        }
        for (i, (got, want)) in records.iter().zip(expected).enumerate() {
            if got != want {
                failures.push(format!("{id}: record {i}:\n  got  {got}\n  want {want}"));
            }
        }
        let rejected = stats["rejected"].as_u64().unwrap();
        if rejected != case["rejected"].as_u64().unwrap() {
            failures.push(format!(
                "{id}: {rejected} rejected, expected {}",
                case["rejected"]
            ));
        }
        checked += 1;
    }
    assert!(
        failures.is_empty(),
        "{} conformance failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(checked >= 15, "only {checked} cases found");
}

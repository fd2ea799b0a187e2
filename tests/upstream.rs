//! `mc-fetch upstream`: real configs planned, and checks against the real nvchecker on the same
//! config and the same loopback upstream.

use std::{collections::BTreeMap, path::Path, process::Command};

use pipeline_tests::{bin, realdata, run};
use serde_json::Value;

/// The chaotic-aur PKGBUILD folders of realdata, unpacked into `dir`; their folders.
fn chaotic_aur(dir: &Path) -> Vec<String> {
    let archive = realdata().join("pkgbuilds/chaotic-aur-packages.tar.gz");
    let status = Command::new("tar")
        .arg("-xzf")
        .arg(&archive)
        .arg("-C")
        .arg(dir)
        .status()
        .expect("runs tar");
    assert!(status.success(), "unpacking {}", archive.display());
    let mut dirs: Vec<String> = std::fs::read_dir(dir)
        .expect("lists")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.join(".nvchecker.toml").is_file())
        .map(|p| p.display().to_string())
        .collect();
    dirs.sort();
    dirs
}

/// Every entry of the 379 real `.nvchecker.toml` files plans as supported, or names why not:
/// entries nvchecker itself could not check (a `manual` without its version, a `github`
/// without its repository), `cmd` without --allow-cmd, and the nvchecker sources mc-fetch
/// does not implement.
#[test]
fn chaotic_aur_configs_plan() {
    let temp = tempfile::tempdir().expect("temp dir");
    let dirs = chaotic_aur(temp.path());
    assert_eq!(
        dirs.len(),
        379,
        "the realdata archive holds 379 .nvchecker.toml files"
    );
    let mut args = vec!["upstream", "--plan"];
    args.extend(dirs.iter().map(String::as_str));
    let plan = run(&bin("mc-fetch"), &args, "");
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    let plans = plan.of_type("upstream_plan");
    assert_eq!(plans.len(), 379, "one entry per file");
    let supported = plans.iter().filter(|p| p["supported"] == true).count();
    let mut why_not: BTreeMap<String, usize> = BTreeMap::new();
    for entry in plans.iter().filter(|p| p["supported"] == false) {
        let reason = entry["reason"].as_str().expect("a reason");
        assert!(!reason.is_empty());
        assert!(
            entry["config"]
                .as_str()
                .is_some_and(|c| c.ends_with(".nvchecker.toml"))
        );
        let class = if reason.contains("needs the key") {
            format!("{} without its key", entry["source"].as_str().unwrap_or(""))
        } else if reason.contains("--allow-cmd") {
            "cmd without --allow-cmd".to_owned()
        } else if reason.contains("not implemented") {
            format!("{} not implemented", entry["source"].as_str().unwrap_or(""))
        } else {
            panic!("unexpected reason: {entry}");
        };
        *why_not.entry(class).or_default() += 1;
    }
    let expected: BTreeMap<String, usize> = [
        ("manual without its key", 16),
        ("github without its key", 1),
        ("cmd without --allow-cmd", 2),
        ("jq not implemented", 6),
        ("htmlparser not implemented", 1),
        ("debianpkg not implemented", 2),
        ("apt not implemented", 1),
        ("rpmrepo not implemented", 1),
        ("pacman not implemented", 1),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    assert_eq!(why_not, expected);
    assert_eq!(supported, 379 - 31);

    args.insert(2, "--allow-cmd");
    let with_cmd = run(&bin("mc-fetch"), &args, "");
    let cmd: Vec<&Value> = with_cmd
        .of_type("upstream_plan")
        .into_iter()
        .filter(|p| p["source"] == "cmd")
        .collect();
    assert_eq!(cmd.len(), 2);
    assert!(cmd.iter().all(|p| p["supported"] == true));
}

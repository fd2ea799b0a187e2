//! `man 7 mc-records` against the record types: every record type has its section, the
//! section documents exactly the fields the type writes, and every word of each closed set
//! appears in the section of the record that carries it. The page is written by hand (it
//! explains); this test keeps it true.

use std::collections::{BTreeMap, BTreeSet};

use minicluster::record::{
    ApplianceAlertRecord, ApplianceMetricsRecord, ApplianceStepRecord, BuildRecord, BuildStatus,
    ChangeAction, ChangeRecord, CommentRecord, ErrorRecord, FileRecord, FindingRecord,
    GeneratedAction, GeneratedRecord, IndexSource, IndexStatus, NetbootEvent, PackageRecord,
    PkgbuildRecord, Record, ScanEngine, Severity, SnapshotAction, SourceRecord, SummaryRecord,
    TemplateRecord, TryStep, TryStepKind, TryVerdict, UpstreamEvent, UpstreamPlanRecord,
    UpstreamRole, Verdict, VmAction, VmImageRecord, VmSnapshotRecord, VmTryRecord,
};

/// One section of the page: its title and the fields its `.TP`/`.B` items name.
struct Section {
    fields: BTreeSet<String>,
    text: String,
}

fn manual() -> BTreeMap<String, Section> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../man/mc-records.7");
    let page = std::fs::read_to_string(path).expect("man/mc-records.7 is readable");
    let mut sections = BTreeMap::new();
    let mut title = String::new();
    let mut section = Section {
        fields: BTreeSet::new(),
        text: String::new(),
    };
    let mut after_tp = false;
    for line in page.lines() {
        if let Some(next) = line.strip_prefix(".SH ") {
            sections.insert(std::mem::replace(&mut title, next.to_owned()), section);
            section = Section {
                fields: BTreeSet::new(),
                text: String::new(),
            };
        } else if after_tp && let Some(names) = line.strip_prefix(".B ") {
            section
                .fields
                .extend(names.split(", ").map(|name| name.trim().to_owned()));
        }
        after_tp = line == ".TP";
        section.text.push_str(line);
        section.text.push('\n');
    }
    sections.insert(title, section);
    sections
}

/// One record of every type, with the fields that are written only when set, set.
fn every_type() -> Vec<Record> {
    let records = vec![
        Record::Package(Box::new(PackageRecord {
            files: Some(Vec::new()),
            ..Default::default()
        })),
        Record::File(FileRecord::default()),
        Record::Error(ErrorRecord::default()),
        Record::Summary(SummaryRecord::default()),
        Record::Change(ChangeRecord::default()),
        Record::AurPackage(Box::default()),
        Record::Pkgbuild(PkgbuildRecord::default()),
        Record::Source(SourceRecord::default()),
        Record::Finding(FindingRecord::default()),
        Record::Comment(CommentRecord::default()),
        Record::Build(BuildRecord::default()),
        Record::Vm(Box::default()),
        Record::Upstream(Box::default()),
        Record::UpstreamPlan(UpstreamPlanRecord::default()),
        Record::VmSnapshot(VmSnapshotRecord::default()),
        Record::VmTry(VmTryRecord::default()),
        Record::VmImage(VmImageRecord::default()),
        Record::Netboot(Box::default()),
        Record::ApplianceStep(ApplianceStepRecord::default()),
        Record::Appliance(Box::default()),
        Record::ApplianceMetrics(ApplianceMetricsRecord::default()),
        Record::ApplianceAlert(ApplianceAlertRecord::default()),
        Record::Generated(GeneratedRecord::default()),
        Record::Template(TemplateRecord::default()),
    ];
    for record in &records {
        // No wildcard: a new record type does not compile here until it is listed above.
        match record {
            Record::Package(_)
            | Record::File(_)
            | Record::Error(_)
            | Record::Summary(_)
            | Record::Change(_)
            | Record::AurPackage(_)
            | Record::Pkgbuild(_)
            | Record::Source(_)
            | Record::Finding(_)
            | Record::Comment(_)
            | Record::Build(_)
            | Record::Vm(_)
            | Record::Upstream(_)
            | Record::UpstreamPlan(_)
            | Record::VmSnapshot(_)
            | Record::VmTry(_)
            | Record::VmImage(_)
            | Record::Netboot(_)
            | Record::ApplianceStep(_)
            | Record::Appliance(_)
            | Record::ApplianceMetrics(_)
            | Record::ApplianceAlert(_)
            | Record::Generated(_)
            | Record::Template(_)
            | Record::Other => {}
        }
    }
    records
}

/// The record's type and the fields it writes.
fn written(record: &Record) -> (String, BTreeSet<String>) {
    let value = serde_json::to_value(record).expect("records serialize");
    let object = value.as_object().expect("a record is an object");
    let kind = object["type"]
        .as_str()
        .expect("type is a string")
        .to_owned();
    let fields = object
        .keys()
        .filter(|key| *key != "type")
        .cloned()
        .collect();
    (kind, fields)
}

#[test]
fn every_record_type_has_a_section_with_exactly_its_fields() {
    let manual = manual();
    let mut wrong = Vec::new();
    for record in every_type() {
        let (kind, fields) = written(&record);
        let Some(section) = manual.get(&kind.to_uppercase()) else {
            wrong.push(format!("{kind}: no section .SH {}", kind.to_uppercase()));
            continue;
        };
        let undocumented: Vec<_> = fields.difference(&section.fields).collect();
        let unknown: Vec<_> = section.fields.difference(&fields).collect();
        if !undocumented.is_empty() || !unknown.is_empty() {
            wrong.push(format!(
                "{kind}: undocumented {undocumented:?}, documented but not written {unknown:?}"
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "man/mc-records.7 disagrees with minicluster::record:\n{}",
        wrong.join("\n")
    );
}

/// `word` as the page sets it in bold (`\fBup\-to\-date\fR`).
fn bold(word: &str) -> String {
    format!("\\fB{}\\fR", word.replace('-', "\\-"))
}

#[test]
fn every_word_of_a_closed_set_is_in_its_records_section() {
    fn words<T: std::fmt::Display>(all: &[T]) -> Vec<String> {
        all.iter().map(ToString::to_string).collect()
    }
    let sets = [
        ("PACKAGE", "index_status", words(IndexStatus::ALL)),
        ("PACKAGE", "indexed_from", words(IndexSource::ALL)),
        ("CHANGE", "action", words(ChangeAction::ALL)),
        ("SOURCE", "verdict", words(Verdict::ALL)),
        ("FINDING", "severity", words(Severity::ALL)),
        ("FINDING", "engine", words(ScanEngine::ALL)),
        ("BUILD", "status", words(BuildStatus::ALL)),
        ("VM", "action", words(VmAction::ALL)),
        ("VM_SNAPSHOT", "action", words(SnapshotAction::ALL)),
        ("VM_TRY", "verdict", words(TryVerdict::ALL)),
        ("VM_TRY", "steps", words(TryStepKind::ALL)),
        ("UPSTREAM", "event", words(UpstreamEvent::ALL)),
        ("UPSTREAM", "role", words(UpstreamRole::ALL)),
        ("UPSTREAM_PLAN", "role", words(UpstreamRole::ALL)),
        ("NETBOOT", "event", words(NetbootEvent::ALL)),
        ("GENERATED", "action", words(GeneratedAction::ALL)),
    ];
    let manual = manual();
    let mut missing = Vec::new();
    for (title, field, words) in sets {
        let text = manual
            .get(title)
            .map_or("", |section| section.text.as_str());
        for word in words {
            if !text.contains(&bold(&word)) {
                missing.push(format!("{title} {field}: {}", bold(&word)));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "man/mc-records.7 lacks words of closed sets:\n{}",
        missing.join("\n")
    );
}

#[test]
fn the_parts_of_nested_objects_are_named_in_their_section() {
    let manual = manual();
    let step = serde_json::to_value(TryStep::default()).expect("serializes");
    let text = &manual["VM_TRY"].text;
    let missing: Vec<_> = step
        .as_object()
        .expect("a step is an object")
        .keys()
        .filter(|key| !text.contains(&bold(key)))
        .collect();
    assert!(missing.is_empty(), "VM_TRY steps lack {missing:?}");
}

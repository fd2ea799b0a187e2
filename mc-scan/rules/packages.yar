// mc-scan's built-in rules: what matters in a pacman package. Each rule carries a severity
// (error, warning, info) and a description that `mc-scan --explain RULE` prints.
// mc-scan defines the external variable `member`: the member's path in the package (".INSTALL",
// "usr/bin/foo"), so a rule can look only at some members. A rule's check name is its
// identifier in kebab-case (reverse_shell: `reverse-shell`), as every check of every tool.
// The install scriptlet (.INSTALL) is read by the shared scriptlet checks instead, which undo the
// simple shell obfuscations first (minicluster::scriptlet: download-execute, decode-execute,
// reverse-shell, persistence, install-package-manager, install-network), so the shell rules
// here skip it.

rule eicar_test_file
{
    meta:
        severity = "error"
        description = "The EICAR anti-virus test string. Harmless by design, and the standard way to check that a scanner works; it has no place in a package that machines install."
    strings:
        $eicar = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
    condition:
        $eicar
}

rule reverse_shell
{
    meta:
        severity = "error"
        description = "A reverse shell: a shell whose input and output are wired to a network connection (bash's /dev/tcp redirections, nc -e, socat exec, the Python and Perl socket one-liners). Malware uses it to hand a remote attacker a shell on the machine."
    strings:
        $bash_i = /(ba|z|k)?sh\s+-i\s+[0-9]*[<>&]+\s*\/dev\/(tcp|udp)\/[^\s\/]+\/[0-9]+/
        $redirect = /[0-9]*>&\s*\/dev\/(tcp|udp)\/[^\s\/]+\/[0-9]+/
        $exec_fd = /exec\s+[0-9]+<>\s*\/dev\/(tcp|udp)\/[^\s\/]+\/[0-9]+/
        $nc_e = /\b(nc|ncat|netcat)\s+([^\n]{0,40}\s)?-[a-z]*[ec]\s+\/?(bin\/|usr\/bin\/)?(ba|z|da)?sh\b/
        $socat = /socat\s[^\n]{0,100}exec:["']?(\/bin\/|\/usr\/bin\/)?(ba|z|da)?sh/
        $fifo = /mkfifo\s+\S+\s*;[^\n]{0,100}\|\s*\/?(bin\/)?(ba|z|da)?sh\s+-i/
        $python = /socket\.socket\([^\n]{0,300}\.connect\(\([^\n]{0,300}os\.dup2\(/
        $perl = /socket\(\s*[A-Z]+\s*,[^\n]{0,200}connect\(\s*[A-Z]+\s*,[^\n]{0,300}open\(\s*STDIN/
    condition:
        member != ".INSTALL" and any of them
}

rule cryptocurrency_miner
{
    meta:
        severity = "error"
        description = "A cryptocurrency miner: a mining-pool URL (stratum), a known pool, or a miner's tell-tale options and algorithm names (XMRig and its kin). Miners hidden in packages burn the machine's CPU for someone else."
    strings:
        $stratum = /stratum\+(tcp|ssl|tls):\/\//
        $pool = /(pool\.minexmr\.com|supportxmr\.com|hashvault\.pro|nanopool\.org|moneroocean\.stream|pool\.hashvault)/
        $xmrig = "xmrig" nocase
        $donate = "--donate-level"
        $cryptonight = "cryptonight" nocase
        $randomx = "randomx" nocase
    condition:
        $stratum or $pool or 2 of ($xmrig, $donate, $cryptonight, $randomx)
}

rule obfuscated_shell
{
    meta:
        severity = "warning"
        description = "Shell code that hides what it runs: a base64 or hex blob decoded straight into a shell or eval, reversed text piped to a shell, or a command glued together from variables and then evaluated (the string splitting of the 2026 AUR attacks)."
    strings:
        $base64_shell = /base64\s+(-d|--decode|-D)[^\n|]*\|\s*(ba|z|da)?sh\b/
        $eval_base64 = /eval\s+["']?\$\(\s*(echo|printf)\s[^\n)]*\|\s*base64\s+(-d|--decode)/
        $hex_shell = /(printf|echo\s+-e)\s+["'](\\x[0-9a-fA-F]{2}){8,}["'][^\n|]*\|\s*(ba|z|da)?sh\b/
        $xxd_shell = /xxd\s+-r\s+-p[^\n|]*\|\s*(ba|z|da)?sh\b/
        $rev_shell = /\|\s*rev\s*\|\s*(ba|z|da)?sh\b/
        $eval_pieces = /eval\s+["']?\$\{?[A-Za-z_][A-Za-z0-9_]*\}?\$\{?[A-Za-z_][A-Za-z0-9_]*\}?\$\{?[A-Za-z_][A-Za-z0-9_]*/
    condition:
        (uint16(0) == 0x2123 or member endswith ".sh" or member endswith ".install")
        and member != ".INSTALL" and any of them
}

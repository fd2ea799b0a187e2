<?php

declare(strict_types=1);

namespace {{ namespace }}\Tests\Architecture;

use PHPUnit\Framework\TestCase;

/**
 * The architecture guardrails, as a test over every `use` statement and fully qualified name in
 * src/: each slice (src/Slice/) is a hexagon, and slices do not reach into each other. These are
 * the rules deptrac would check; deptrac comes from Packagist, which this setup cannot reach.
 */
final class LayerRulesTest extends TestCase
{
    private const NS = '{{ namespace }}\\';

    /** @return list<array{string, string, string}> [file, slice, layer] of every class file in a slice */
    private static function files(): array
    {
        $files = [];
        $src = dirname(__DIR__, 2) . '/src';
        $all = new \RecursiveIteratorIterator(new \RecursiveDirectoryIterator($src, \FilesystemIterator::SKIP_DOTS));
        foreach ($all as $file) {
            $relative = substr((string) $file, strlen($src) + 1);
            $parts = explode('/', $relative);
            if (count($parts) >= 3 && str_ends_with($relative, '.php')) {
                $files[] = [(string) $file, $parts[0], $parts[1]];
            }
        }
        return $files;
    }

    /** @return list<string> the classes a file names: `use` statements and fully qualified names */
    private static function uses(string $file): array
    {
        // The file's own namespace is not a use of it.
        $code = (string) preg_replace('/^namespace\s+[^;]+;/m', '', (string) file_get_contents($file));
        preg_match_all('/^use\s+(?:function\s+|const\s+)?([\\\\A-Za-z0-9_]+)/m', $code, $imports);
        preg_match_all('/(?<![A-Za-z0-9_])\\\\?(' . preg_quote(self::NS, '/') . '[A-Za-z0-9_\\\\]+)/', $code, $qualified);
        return array_values(array_unique(array_map(
            static fn (string $name): string => ltrim($name, '\\'),
            array_merge($imports[1], $qualified[1]),
        )));
    }

    /** @param callable(string, string, string): bool $forbidden */
    private static function violations(callable $forbidden): array
    {
        $found = [];
        foreach (self::files() as [$file, $slice, $layer]) {
            foreach (self::uses($file) as $used) {
                if ($forbidden($used, $slice, $layer)) {
                    $found[] = basename($file) . " uses $used";
                }
            }
        }
        return $found;
    }

    private static function assertRule(string $rule, array $violations): void
    {
        self::assertSame([], $violations, "Rule '$rule' was violated:\n" . implode("\n", $violations));
    }

    public function testADomainUsesNothingButItsOwnDomain(): void
    {
        self::assertRule(
            "hexagon: a domain depends on nothing but PHP and its own slice's domain",
            self::violations(static fn (string $used, string $slice, string $layer): bool =>
                $layer === 'Domain' && !str_starts_with($used, self::NS . "$slice\\Domain\\")),
        );
    }

    public function testTheApplicationLayerKnowsNoAdapter(): void
    {
        self::assertRule(
            'hexagon: the application layer (ports, use cases) knows no adapter',
            self::violations(static fn (string $used, string $slice, string $layer): bool =>
                $layer === 'Application' && str_contains($used, '\\Adapter\\')),
        );
    }

    public function testSlicesAreIndependent(): void
    {
        self::assertRule(
            "slices: no slice depends on another slice's classes",
            self::violations(static fn (string $used, string $slice): bool =>
                str_starts_with($used, self::NS) && !str_starts_with($used, self::NS . "$slice\\")),
        );
    }
}

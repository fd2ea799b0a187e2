<?php

declare(strict_types=1);

namespace {{ namespace }}\Tests\{{ Slice }};

use {{ namespace }}\{{ Slice }}\Application\{{ Slice }}Repository;
use {{ namespace }}\{{ Slice }}\Domain\{{ Slice }};

/** The driven port in memory, for tests of the hexagon without adapters. */
final class InMemory{{ Slice }}Repository implements {{ Slice }}Repository
{
    /** @var array<string, {{ Slice }}> */
    public array $kept = [];

    public function save({{ Slice }} ${{ slice }}): void
    {
        $this->kept[${{ slice }}->id] = ${{ slice }};
    }

    public function find(string $id): ?{{ Slice }}
    {
        return $this->kept[$id] ?? null;
    }

    public function all(): array
    {
        return array_values($this->kept);
    }
}

<?php

declare(strict_types=1);

namespace {{ namespace }}\{{ Slice }}\Application;

use {{ namespace }}\{{ Slice }}\Domain\{{ Slice }};

/** The driven port: where {{ slice }}s are kept. An adapter implements it. */
interface {{ Slice }}Repository
{
    public function save({{ Slice }} ${{ slice }}): void;

    public function find(string $id): ?{{ Slice }};

    /** @return list<{{ Slice }}> */
    public function all(): array;
}

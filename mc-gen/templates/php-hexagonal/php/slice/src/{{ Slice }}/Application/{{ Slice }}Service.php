<?php

declare(strict_types=1);

namespace {{ namespace }}\{{ Slice }}\Application;

use {{ namespace }}\{{ Slice }}\Domain\{{ Slice }};

/** The use cases of the slice (its driving port), over its driven port only. */
final class {{ Slice }}Service
{
    public function __construct(private readonly {{ Slice }}Repository $repository)
    {
    }

    public function open(string $title): {{ Slice }}
    {
        ${{ slice }} = {{ Slice }}::open($title);
        $this->repository->save(${{ slice }});
        return ${{ slice }};
    }

    public function complete(string $id): ?{{ Slice }}
    {
        $done = $this->repository->find($id)?->complete();
        if ($done !== null) {
            $this->repository->save($done);
        }
        return $done;
    }

    /** @return list<{{ Slice }}> */
    public function all(): array
    {
        return $this->repository->all();
    }
}

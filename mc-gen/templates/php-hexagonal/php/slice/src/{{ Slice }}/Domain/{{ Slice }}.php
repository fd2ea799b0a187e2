<?php

declare(strict_types=1);

namespace {{ namespace }}\{{ Slice }}\Domain;

/** A {{ slice }}: the slice's domain model. Plain PHP: the layer rules keep it so. */
final class {{ Slice }}
{
    public function __construct(
        public readonly string $id,
        public readonly string $title,
        public readonly bool $done = false,
    ) {
        if (trim($title) === '') {
            throw new \InvalidArgumentException('a {{ slice }} needs a title');
        }
    }

    /** A new, open {{ slice }}. */
    public static function open(string $title): self
    {
        return new self(bin2hex(random_bytes(16)), trim($title));
    }

    /** This {{ slice }}, done. */
    public function complete(): self
    {
        return new self($this->id, $this->title, true);
    }
}

<?php

declare(strict_types=1);

namespace {{ namespace }}\{{ Slice }}\Adapter\Web;

use {{ namespace }}\{{ Slice }}\Adapter\Persistence\Pdo{{ Slice }}Repository;
use {{ namespace }}\{{ Slice }}\Application\{{ Slice }}Service;
use {{ namespace }}\{{ Slice }}\Domain\{{ Slice }};
use PDO;

/** The driving adapter: the slice's JSON API under /api/{{ slice }}s. */
final class {{ Slice }}Controller
{
    public function __construct(private readonly {{ Slice }}Service $service)
    {
    }

    /** The controller over a PDO database: the slice's wiring. */
    public static function wired(PDO $pdo): self
    {
        return new self(new {{ Slice }}Service(new Pdo{{ Slice }}Repository($pdo)));
    }

    /**
     * The answer to a request, [status, JSON value], or null when the path is not this slice's.
     *
     * @return array{int, mixed}|null
     */
    public function handle(string $method, string $path, mixed $body): ?array
    {
        if ($path === '/api/{{ slice }}s' && $method === 'POST') {
            $title = is_array($body) && is_string($body['title'] ?? null) ? $body['title'] : '';
            try {
                return [201, self::view($this->service->open($title))];
            } catch (\InvalidArgumentException $refused) {
                return [400, ['error' => $refused->getMessage()]];
            }
        }
        if ($path === '/api/{{ slice }}s' && $method === 'GET') {
            return [200, array_map(self::view(...), $this->service->all())];
        }
        if ($method === 'POST' && preg_match('#^/api/{{ slice }}s/([0-9a-f]+)/complete$#', $path, $match)) {
            $done = $this->service->complete($match[1]);
            return $done === null ? [404, ['error' => 'no such {{ slice }}']] : [200, self::view($done)];
        }
        return null;
    }

    /** @return array{id: string, title: string, done: bool} */
    private static function view({{ Slice }} ${{ slice }}): array
    {
        return ['id' => ${{ slice }}->id, 'title' => ${{ slice }}->title, 'done' => ${{ slice }}->done];
    }
}

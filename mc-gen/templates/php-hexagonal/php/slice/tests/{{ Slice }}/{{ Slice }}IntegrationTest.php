<?php

declare(strict_types=1);

namespace {{ namespace }}\Tests\{{ Slice }};

use {{ namespace }}\{{ Slice }}\Adapter\Web\{{ Slice }}Controller;
use PDO;
use PHPUnit\Framework\TestCase;

/** The whole slice wired: requests in, the database out (SQLite in memory, or $TEST_DATABASE_DSN). */
final class {{ Slice }}IntegrationTest extends TestCase
{
    public function testAnOpened{{ Slice }}IsListedAndCanBeCompleted(): void
    {
        $pdo = new PDO(getenv('TEST_DATABASE_DSN') ?: 'sqlite::memory:');
        $pdo->setAttribute(PDO::ATTR_ERRMODE, PDO::ERRMODE_EXCEPTION);
        $controller = {{ Slice }}Controller::wired($pdo);
        [, $opened] = $controller->handle('POST', '/api/{{ slice }}s', ['title' => 'deploy with minicluster']);
        [$status, $done] = $controller->handle('POST', "/api/{{ slice }}s/{$opened['id']}/complete", null);
        self::assertSame([200, true], [$status, $done['done']]);
        [, $all] = $controller->handle('GET', '/api/{{ slice }}s', null);
        self::assertContains($done, $all);
    }
}

<?php

declare(strict_types=1);

namespace {{ namespace }}\Tests\{{ Slice }};

use {{ namespace }}\{{ Slice }}\Adapter\Web\{{ Slice }}Controller;
use {{ namespace }}\{{ Slice }}\Application\{{ Slice }}Service;
use PHPUnit\Framework\TestCase;

/** A slice test: the web adapter alone, over the use cases with an in-memory port. */
final class {{ Slice }}ControllerTest extends TestCase
{
    public function testPostOpensA{{ Slice }}(): void
    {
        $controller = new {{ Slice }}Controller(new {{ Slice }}Service(new InMemory{{ Slice }}Repository()));
        [$status, $json] = $controller->handle('POST', '/api/{{ slice }}s', ['title' => 'review the ADRs']);
        self::assertSame(201, $status);
        self::assertSame(['review the ADRs', false], [$json['title'], $json['done']]);
        self::assertSame(400, $controller->handle('POST', '/api/{{ slice }}s', [])[0]);
        self::assertNull($controller->handle('GET', '/elsewhere', null));
    }
}

<?php

declare(strict_types=1);

namespace {{ namespace }}\Tests\{{ Slice }};

use {{ namespace }}\{{ Slice }}\Application\{{ Slice }}Service;
use PHPUnit\Framework\TestCase;

/** Unit tests of the use cases over an in-memory port. */
final class {{ Slice }}ServiceTest extends TestCase
{
    public function testOpenedIsKept(): void
    {
        $service = new {{ Slice }}Service(new InMemory{{ Slice }}Repository());
        $opened = $service->open('plan the week');
        self::assertEquals([$opened], $service->all());
    }

    public function testCompleteMarksDoneAndSaves(): void
    {
        $repository = new InMemory{{ Slice }}Repository();
        $service = new {{ Slice }}Service($repository);
        $opened = $service->open('plan the week');
        self::assertTrue($service->complete($opened->id)?->done);
        self::assertTrue($repository->kept[$opened->id]->done);
    }

    public function testCompletingAnUnknownIdFindsNothing(): void
    {
        self::assertNull((new {{ Slice }}Service(new InMemory{{ Slice }}Repository()))->complete('0'));
    }
}

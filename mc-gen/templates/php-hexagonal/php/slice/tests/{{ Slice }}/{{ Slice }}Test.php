<?php

declare(strict_types=1);

namespace {{ namespace }}\Tests\{{ Slice }};

use {{ namespace }}\{{ Slice }}\Domain\{{ Slice }};
use PHPUnit\Framework\TestCase;

/** Unit tests of the domain: no framework, no database. */
final class {{ Slice }}Test extends TestCase
{
    public function testANew{{ Slice }}IsOpenWithItsTitleTrimmed(): void
    {
        ${{ slice }} = {{ Slice }}::open('  write the tests first ');
        self::assertSame('write the tests first', ${{ slice }}->title);
        self::assertFalse(${{ slice }}->done);
    }

    public function testCompletingKeepsTheIdentity(): void
    {
        ${{ slice }} = {{ Slice }}::open('ship it');
        self::assertEquals(new {{ Slice }}(${{ slice }}->id, 'ship it', true), ${{ slice }}->complete());
    }

    public function testABlankTitleIsRefused(): void
    {
        $this->expectException(\InvalidArgumentException::class);
        {{ Slice }}::open(' ');
    }
}

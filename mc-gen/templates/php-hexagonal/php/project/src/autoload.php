<?php

declare(strict_types=1);

// PSR-4 without Composer: {{ namespace }}\X\Y is src/X/Y.php, {{ namespace }}\Tests\X is tests/X.php.
spl_autoload_register(static function (string $class): void {
    $roots = ['{{ namespace }}\\Tests\\' => __DIR__ . '/../tests/', '{{ namespace }}\\' => __DIR__ . '/'];
    foreach ($roots as $prefix => $dir) {
        if (str_starts_with($class, $prefix)) {
            $file = $dir . str_replace('\\', '/', substr($class, strlen($prefix))) . '.php';
            if (is_file($file)) {
                require $file;
            }
            return;
        }
    }
});

<?php

declare(strict_types=1);

// The front controller: every slice's web adapter, over one PDO connection ($DATABASE_DSN).
require __DIR__ . '/../src/autoload.php';

$pdo = new PDO(getenv('DATABASE_DSN') ?: 'sqlite:' . __DIR__ . '/../{{ app }}.sqlite');
$pdo->setAttribute(PDO::ATTR_ERRMODE, PDO::ERRMODE_EXCEPTION);
$path = parse_url($_SERVER['REQUEST_URI'] ?? '/', PHP_URL_PATH) ?: '/';
$body = json_decode(file_get_contents('php://input') ?: 'null', true);
$controllers = [
{%- for s in slices %}
    {{ namespace }}\{{ s.Slice }}\Adapter\Web\{{ s.Slice }}Controller::wired($pdo),
{%- endfor %}
];
foreach ($controllers as $controller) {
    $answer = $controller->handle($_SERVER['REQUEST_METHOD'] ?? 'GET', $path, $body);
    if ($answer !== null) {
        [$status, $json] = $answer;
        http_response_code($status);
        header('Content-Type: application/json');
        echo json_encode($json);
        exit;
    }
}
http_response_code(404);

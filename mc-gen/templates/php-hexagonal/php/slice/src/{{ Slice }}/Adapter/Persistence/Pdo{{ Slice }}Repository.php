<?php

declare(strict_types=1);

namespace {{ namespace }}\{{ Slice }}\Adapter\Persistence;

use {{ namespace }}\{{ Slice }}\Application\{{ Slice }}Repository;
use {{ namespace }}\{{ Slice }}\Domain\{{ Slice }};
use PDO;

/** The driven adapter: {{ slice }}s in a PDO database (table `{{ slice }}`, made if missing). */
final class Pdo{{ Slice }}Repository implements {{ Slice }}Repository
{
    public function __construct(private readonly PDO $pdo)
    {
        $pdo->exec('CREATE TABLE IF NOT EXISTS {{ slice }} (id VARCHAR(32) PRIMARY KEY, title VARCHAR(200) NOT NULL, done BOOLEAN NOT NULL)');
    }

    public function save({{ Slice }} ${{ slice }}): void
    {
        $values = ['id' => ${{ slice }}->id, 'title' => ${{ slice }}->title, 'done' => (int) ${{ slice }}->done];
        $update = $this->pdo->prepare('UPDATE {{ slice }} SET title = :title, done = :done WHERE id = :id');
        $update->execute($values);
        if ($update->rowCount() === 0) {
            $this->pdo->prepare('INSERT INTO {{ slice }} (id, title, done) VALUES (:id, :title, :done)')->execute($values);
        }
    }

    public function find(string $id): ?{{ Slice }}
    {
        $query = $this->pdo->prepare('SELECT id, title, done FROM {{ slice }} WHERE id = ?');
        $query->execute([$id]);
        $row = $query->fetch(PDO::FETCH_ASSOC);
        return $row === false ? null : self::row($row);
    }

    public function all(): array
    {
        $rows = $this->pdo->query('SELECT id, title, done FROM {{ slice }} ORDER BY title')->fetchAll(PDO::FETCH_ASSOC);
        return array_map(self::row(...), $rows);
    }

    /** @param array{id: string, title: string, done: mixed} $row */
    private static function row(array $row): {{ Slice }}
    {
        return new {{ Slice }}($row['id'], $row['title'], (bool) $row['done']);
    }
}

#pragma once
// Shared by the database tests and their helper process: synthetic series and masks, a raw SQL
// connection that bypasses StudyDatabase (to play a careless tool or an attacker).
#include "database/StudyDatabase.h"

#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QString>
#include <QUuid>
#include <QVariant>

#include <random>
#include <string>

namespace dbtest
{
inline panseg::Geometry grid(int nx, int ny, int nz, double spacing = 1.5)
{
  panseg::Geometry g;
  g.size = { nx, ny, nz };
  g.spacingMm = { spacing, spacing, 2.0 * spacing };
  g.originMm = { -10.0, 20.0, 30.0 };
  return g;
}

/// A series record without an image file behind it (mask tests need only its grid).
inline int64_t addSyntheticSeries(panseg::db::StudyDatabase& db, const panseg::Geometry& g, const std::string& name,
                                  panseg::db::Modality modality = panseg::db::Modality::CT)
{
  panseg::db::StudyDatabase::NewSeries s;
  s.patientKey = "test:" + name;
  s.patientName = name;
  s.studyKey = "test:" + name;
  s.description = name;
  s.modality = modality;
  s.modalitySource = "test";
  s.geometry = g;
  s.format = "NIfTI";
  s.sourcePath = "/nonexistent/" + name + ".nii.gz";
  s.contentHash = "synthetic-" + name + "-" + QUuid::createUuid().toString(QUuid::Id128).toStdString();
  return db.addSeries(s).id;
}

/// Blobs of labels 1..3 on a zero background; `seed` makes it reproducible. Random runs make
/// files that compress poorly, so that writing them takes measurable time.
/// A 3 x 3 x 2 box of label 1 starting at x0 (y 2..4, z 1..2): a small mask version for workflow tests.
inline panseg::LabelMask boxMask(const panseg::Geometry& g, int64_t x0)
{
  panseg::LabelMask m(g);
  for (int64_t z = 1; z < 3; ++z)
    for (int64_t y = 2; y < 5; ++y)
      for (int64_t x = x0; x < x0 + 3; ++x)
        m.at(x, y, z) = 1;
  return m;
}

inline panseg::LabelMask randomMask(const panseg::Geometry& g, unsigned seed, bool noisy = true)
{
  panseg::LabelMask m(g);
  std::mt19937 rng(seed);
  if (noisy)
  {
    std::uniform_int_distribution<int> run(1, 12), label(0, 3);
    size_t i = 0;
    while (i < m.voxels.size())
    {
      const int n = run(rng);
      const auto l = uint8_t(label(rng));
      for (int k = 0; k < n && i < m.voxels.size(); ++k)
        m.voxels[i++] = l;
    }
  }
  else
  {
    std::uniform_int_distribution<int64_t> pos(0, int64_t(m.voxels.size()) - 1);
    for (int k = 0; k < 50; ++k)
      m.voxels[size_t(pos(rng))] = 1;
  }
  return m;
}

/// A second, independent connection to the database file.
class RawSql
{
public:
  explicit RawSql(const std::string& dbFile)
    : m_name(QUuid::createUuid().toString())
  {
    QSqlDatabase db = QSqlDatabase::addDatabase("QSQLITE", m_name);
    db.setDatabaseName(QString::fromStdString(dbFile));
    db.open();
    QSqlQuery(db).exec("PRAGMA foreign_keys=ON");
    QSqlQuery(db).exec("PRAGMA busy_timeout=10000");
  }
  ~RawSql()
  {
    {
      QSqlDatabase db = QSqlDatabase::database(m_name, false);
      db.close();
    }
    QSqlDatabase::removeDatabase(m_name);
  }
  /// Runs a statement; returns the error text ("" on success).
  QString exec(const QString& sql)
  {
    QSqlQuery q(QSqlDatabase::database(m_name, false));
    if (!q.exec(sql))
      return q.lastError().text().isEmpty() ? QString("error") : q.lastError().text();
    return {};
  }
  QVariant scalar(const QString& sql)
  {
    QSqlQuery q(QSqlDatabase::database(m_name, false));
    if (!q.exec(sql) || !q.next())
      return {};
    return q.value(0);
  }

private:
  QString m_name;
};
} // namespace dbtest

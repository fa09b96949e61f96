#pragma once
#include "../ProcessRun.h"
// Shared by the export tests: a synthetic patient with dated studies and masks of known voxel
// counts, external tools (unzip, pdftotext, pdftoppm) run as processes.
#include "database/StudyDatabase.h"

#include <QProcess>
#include <QString>
#include <QStringList>
#include <QUuid>

#include <string>

namespace extest
{
inline panseg::Geometry grid(double sx = 0.8, double sy = 0.8, double sz = 2.5)
{
  panseg::Geometry g;
  g.size = { 20, 16, 10 };
  g.spacingMm = { sx, sy, sz };
  g.originMm = { -5.0, 7.0, 11.0 };
  return g;
}

/// A series (no image file behind it) of `patient` in a study on `date`.
inline int64_t addSeries(panseg::db::StudyDatabase& db, const std::string& patient, const std::string& date,
                         panseg::db::Modality modality, const std::string& center, const panseg::Geometry& g)
{
  panseg::db::StudyDatabase::NewSeries s;
  s.patientKey = "dicom:" + patient;
  s.patientId = patient;
  s.patientName = "Name^" + patient;
  s.studyKey = "study:" + patient + ":" + date + ":" + panseg::db::to_string(modality);
  s.studyDate = date;
  s.description = "synthetic " + panseg::db::to_string(modality);
  s.modality = modality;
  s.modalitySource = "test";
  s.center = center;
  s.geometry = g;
  s.format = "NIfTI";
  s.sourcePath = "/nonexistent/" + patient + "-" + date + ".nii.gz";
  s.contentHash = "synthetic-" + QUuid::createUuid().toString(QUuid::Id128).toStdString();
  return db.addSeries(s).id;
}

/// A mask with `pancreas` voxels of label 1 and `other` voxels of label 2.
inline panseg::LabelMask maskWith(const panseg::Geometry& g, int pancreas, int other = 0)
{
  panseg::LabelMask m(g);
  for (int i = 0; i < pancreas; ++i)
    m.voxels[size_t(i)] = 1;
  for (int i = 0; i < other; ++i)
    m.voxels[m.voxels.size() - 1 - size_t(i)] = 2;
  return m;
}

inline panseg::db::MaskProvenance provenance(panseg::db::MaskSource source, int64_t parent = 0)
{
  panseg::db::MaskProvenance p;
  p.source = source;
  p.parentId = parent;
  return p;
}

/// submitted -> approved by the database's current user.
inline void approve(panseg::db::StudyDatabase& db, int64_t maskId)
{
  db.setMaskState(maskId, panseg::db::MaskState::Submitted);
  db.setMaskState(maskId, panseg::db::MaskState::Approved, "checked");
}

using testproc::Run;

inline Run run(const QString& program, const QStringList& args, int timeoutMs = 60000)
{
  return testproc::run(program, args, timeoutMs);
}
} // namespace extest

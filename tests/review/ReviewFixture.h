#pragma once
// A real study database in a temporary folder for the review-workstation tests: "coord" (the
// first user: admin), coordinator "carol", readers alice and bob, `n` phantom CT series whose
// images are NIfTI files beside the database, and an AI mask version of every series (model
// "demo 1", run by alice unless told otherwise) also written as a file, as the GUI's prediction would have left it.
#include "core/demo/PhantomGenerator.h"
#include "core/io/ImageIO.h"
#include "database/ContentHash.h"
#include "database/studies/ReaderStudy.h"
#include "database/StudyDatabase.h"

#include <QTemporaryDir>
#include <QtTest>

#include <string>
#include <vector>

namespace review
{
using namespace panseg;
using namespace panseg::db;

inline StudyDatabase::OpenOptions as(const std::string& user)
{
  StudyDatabase::OpenOptions o;
  o.username = user;
  return o;
}

struct Fixture
{
  QTemporaryDir tmp;
  QString dir;                      // the data folder
  std::vector<int64_t> series;      // ids
  std::vector<QString> imagePaths;  // the series' files
  std::vector<QString> aiMaskPaths; // the AI masks as files (outside the database)
  std::vector<int64_t> aiMasks;     // their mask version ids
  std::vector<LabelMask> truths;
};

/// Fills `f` (call with QVERIFY(!QTest::currentTestFailed()) after). `aiAuthor` ran the model.
inline void setUp(Fixture& f, int n, const std::string& aiAuthor = "alice")
{
  QVERIFY(f.tmp.isValid());
  f.dir = f.tmp.path() + "/db";
  StudyDatabase db(f.dir.toStdString(), as("coord"));
  db.addUser("carol", Role::Coordinator);
  db.addUser("alice", Role::Reader);
  db.addUser("bob", Role::Reader);
  for (int i = 0; i < n; ++i)
  {
    demo::PhantomOptions po;
    po.seed = uint32_t(21 + i);
    po.size = {48, 40, 20};
    po.spacingMm = {6.4, 6.4, 9.6};
    po.noiseScale = 0.2;
    po.threads = 2;
    demo::Phantom ph = demo::generatePhantom(po);
    const QString path = f.tmp.path() + QString("/patient%1_ct.nii.gz").arg(i);
    writeImage(ph.ct, path.toStdString());
    const Image stored = readImage(path.toStdString());
    StudyDatabase::NewSeries s;
    s.patientKey = "name:patient" + std::to_string(i);
    s.patientId = "PAT-" + std::to_string(100 + i);
    s.patientName = "Patient " + std::to_string(i);
    s.studyKey = s.patientKey + ":1";
    s.description = "venous phase " + std::to_string(i);
    s.modality = Modality::CT;
    s.center = "north";
    s.geometry = stored.geometry;
    s.format = "NIfTI";
    s.sourcePath = path.toStdString();
    s.contentHash = imageContentHash(stored);
    f.series.push_back(db.addSeries(s).id);
    f.imagePaths.push_back(path);
    f.truths.push_back(ph.pancreas);
  }
  ModelVersion m;
  m.modelId = "demo";
  m.version = "1";
  const int64_t model = db.registerModelVersion(m);
  StudyDatabase alice(f.dir.toStdString(), as(aiAuthor));
  for (int i = 0; i < n; ++i)
  {
    MaskProvenance p;
    p.source = MaskSource::AI;
    p.modelVersionId = model;
    f.aiMasks.push_back(alice.saveMaskVersion(f.series[size_t(i)], f.truths[size_t(i)], p));
    const QString file = f.tmp.path() + QString("/patient%1_ct_pred_demo.nii.gz").arg(i);
    writeMask(f.truths[size_t(i)], file.toStdString());
    f.aiMaskPaths.push_back(file);
  }
}

/// An inter-observer study of every series with readers alice and bob (created by carol).
inline int64_t createStudy(const Fixture& f, const std::string& name, StartFrom start = StartFrom::Scratch)
{
  StudyDatabase db(f.dir.toStdString(), as("carol"));
  ReaderStudy rs(db);
  NewReaderStudy s;
  s.name = name;
  s.design = StudyDesign::InterObserver;
  s.startFrom = start;
  s.readers = {"alice", "bob"};
  s.seriesIds = f.series;
  return rs.createStudy(s);
}
} // namespace review

#pragma once
// `panseg export-seg`, `panseg import-seg` and `panseg deidentify`: DICOM SEG and de-identified
// DICOM from the command line (core/io/DicomSeg, core/io/Deidentify). Each takes the arguments
// after its subcommand and returns the exit code (0 ok, 1 failure with "panseg: error: ...", 2
// usage).
#include <QString>
#include <QStringList>

namespace panseg::cli
{
/// panseg export-seg (--image DICOM_DIR --mask MASK | --db DIR --mask-version ID) --out FILE.dcm
///   [--label N] [--ai-model NAME --ai-version V] [--description TEXT] [--creator NAME]
///   [--deidentify [--salt S]]
int exportSegCommand(const QStringList& args);
/// panseg import-seg FILE.dcm [--image DICOM_DIR] --out MASK.nii.gz [--json]
int importSegCommand(const QStringList& args);
/// panseg deidentify DICOM_DIR --out DIR [--salt S] [--seg FILE.dcm --seg-out FILE.dcm]
int deidentifyCommand(const QStringList& args);
/// Usage lines for `panseg --help`.
QString segUsage();
} // namespace panseg::cli

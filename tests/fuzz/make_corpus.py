#!/usr/bin/env python3
"""Writes tests/fuzz/corpus: small malformed images and model packages (seeded, reproducible).

Run from this folder: python3 make_corpus.py. The files are committed; tst_fuzz_corpus reads them.
Each file is a few hundred bytes; add a case by adding one line below.
"""
import gzip
import json
import os
import random
import struct

random.seed(14)
os.makedirs('corpus/images', exist_ok=True)
os.makedirs('corpus/packages', exist_ok=True)


def nifti(dims=(4, 4, 3), datatype=2, bitpix=8, pixdim=(1, 1, 1), magic=b'n+1\0', vox_offset=352.0,
          data=None, dimcount=3):
    h = bytearray(348)
    struct.pack_into('<i', h, 0, 348)
    struct.pack_into('<8h', h, 40, *([dimcount] + list(dims) + [1] * (7 - len(dims))))
    struct.pack_into('<h', h, 70, datatype)
    struct.pack_into('<h', h, 72, bitpix)
    struct.pack_into('<8f', h, 76, 1.0, *pixdim, 1, 1, 1, 1)
    struct.pack_into('<f', h, 108, vox_offset)
    h[344:348] = magic
    n = 1
    for x in dims:
        n *= x if x > 0 else 0
    if data is None:
        data = bytes((i * 7) % 3 for i in range(n * (bitpix // 8)))
    return bytes(h) + b'\0\0\0\0' + data


def noise(n):
    return bytes(random.getrandbits(8) for _ in range(n))


def image(name, content):
    with open('corpus/images/' + name, 'wb') as f:
        f.write(content)


ok = nifti()
image('truncated_data.nii', ok[:352 + 20])
image('truncated_header.nii', ok[:200])
gz = gzip.compress(ok)
image('truncated_stream.nii.gz', gz[:len(gz) // 2])
image('empty.nii.gz', b'')
image('garbage.nii.gz', noise(600))
image('huge_dims.nii', nifti(dims=(30000, 30000, 30000), data=b'\1' * 64))
image('negative_dim.nii', nifti(dims=(4, -5, 3), data=b'\0' * 48))
image('zero_spacing.nii', nifti(pixdim=(0, 1, 1)))
image('nan_spacing.nii', nifti(pixdim=(float('nan'), 1, 1)))
image('unknown_datatype.nii', nifti(datatype=9999, bitpix=8))
image('vox_offset_past_end.nii', nifti(vox_offset=1e9))
image('four_d.nii', nifti(dims=(4, 4, 3, 2), dimcount=4, data=b'\0' * 96))
meta = b'ObjectType = Image\nNDims = 3\nDimSize = 8 8 8\n'
image('meta_no_data.mha', meta + b'ElementType = MET_UCHAR\nElementSpacing = 1 1 1\nElementDataFile = LOCAL\n')
image('meta_missing_file.mhd', meta + b'ElementType = MET_SHORT\nElementSpacing = 1 1 1\nElementDataFile = missing.raw\n')
image('meta_bad_ndims.mha', b'ObjectType = Image\nNDims = 12\nDimSize = 2 2 2 2 2 2 2 2 2 2 2 2\n'
      b'ElementType = MET_UCHAR\nElementDataFile = LOCAL\n' + b'\0' * 64)
image('meta_compressed_garbage.mha', meta + b'ElementType = MET_UCHAR\nCompressedData = True\n'
      b'CompressedDataSize = 40\nElementDataFile = LOCAL\n' + noise(40))
nrrd = b'NRRD0004\ntype: uint8\ndimension: 3\n'
image('nrrd_short_data.nrrd', nrrd + b'sizes: 8 8 8\nspace directions: (1,0,0) (0,1,0) (0,0,1)\n'
      b'space: left-posterior-superior\nencoding: raw\n\n' + b'\1' * 100)
image('nrrd_missing_file.nhdr', b'NRRD0004\ntype: short\ndimension: 3\nsizes: 8 8 8\nencoding: raw\n'
      b'data file: missing.raw\n\n')
image('nrrd_bad_sizes.nrrd', nrrd + b'sizes: 8 -8 x\nencoding: raw\n\n' + b'\1' * 64)
image('nrrd_gzip_garbage.nrrd', nrrd + b'sizes: 8 8 8\nencoding: gzip\n\n' + noise(80))
image('not_dicom.dcm', noise(300))
image('preamble_only.dcm', b'\0' * 128 + b'DICM')
image('truncated_meta.dcm', b'\0' * 128 + b'DICM' + b'\x02\x00\x00\x00UL\x04\x00\xff\xff\x00\x00')


def package(name, model, plans='{}', weights_json='[]', weights_bin=b''):
    d = 'corpus/packages/' + name
    os.makedirs(d, exist_ok=True)
    for fn, content in (('model.json', model), ('plans.json', plans), ('weights.json', weights_json),
                        ('weights.bin', weights_bin)):
        if content is None:
            continue
        with open(d + '/' + fn, 'wb') as f:
            f.write(content if isinstance(content, bytes) else content.encode())


good = json.dumps({"name": "Fuzz", "id": "fuzz", "version": "1", "modality": "CT", "type": "pansegnet"})
package('model_json_truncated', good[:25])
package('model_json_array', '[1,2,3]')
package('model_json_wrong_types', json.dumps({"name": 5, "version": [1], "modality": {"x": 1}, "labels": "pancreas"}))
package('labels_not_object', json.dumps({"name": "Fuzz", "version": "1", "labels": [1, 2]}))
package('label_colors_bad', json.dumps({"name": "Fuzz", "version": "1", "label_colors": {"1": "orange"}}))
package('plausibility_bad', json.dumps({"name": "Fuzz", "version": "1", "plausibility": {"volume_ml": "huge"}}))
package('plans_missing', good, plans=None)
package('deep_nesting', '[' * 5000 + ']' * 5000)
package('binary_model_json', noise(200))

"""Real-format COCO 2014 + VQA v2 files for the 15 real photos of ``../shared/fixtures/coco-real``.

No ground truth ships for those photos, so the tests write their own, in the
official formats and layout (``annotations/captions_train2014.json``,
``v2_OpenEnded_mscoco_train2014_questions.json``, ``v2_mscoco_train2014_annotations.json``,
a test-dev questions file without annotations). Captions and questions
describe what each photo shows; the three questions about image 458752 are
the real VQA v2 ones, with their real human answers, and the VQA headers are
copied from the real questions file of ``vqa-v2-sample``.
"""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image

# image id -> (two captions, [(question, answer, answer type), ...]); answers are the
# canonical ones, the human answers are made from them (see _human_answers).
PHOTOS: dict[int, tuple[tuple[str, str], list[tuple[str, str, str]]]] = {
    785: (("A woman skiing down a snowy slope.", "A skier in a red jacket on the snow."),
          [("What is the woman doing?", "skiing", "other"), ("What color is her jacket?", "red", "other"),
           ("Is there snow?", "yes", "yes/no")]),
    14439: (("People flying kites on a grassy field.", "A colorful kite on the grass in a park."),
            [("What is on the grass?", "kite", "other"), ("Is it sunny?", "yes", "yes/no"),
             ("How many kites are on the ground?", "1", "number")]),
    39769: (("Two cats sleeping on a pink couch.", "Two cats lying next to remote controls."),
            [("How many cats are there?", "2", "number"), ("What color is the couch?", "pink", "other"),
             ("Are the cats sleeping?", "yes", "yes/no")]),
    40083: (("Two men sitting under an umbrella on a street.", "A black and white photo of men at a street stall."),
            [("Is this photo in color?", "no", "yes/no"), ("How many men are there?", "2", "number"),
             ("What is above the men?", "umbrella", "other")]),
    87038: (("A man doing a trick on a skateboard at a skate park.", "A skateboarder jumping in front of graffiti."),
            [("What is the man riding?", "skateboard", "other"), ("Is he in the air?", "yes", "yes/no"),
             ("How many people are there?", "3", "number")]),
    196141: (("A baseball player swinging a bat at home plate.", "A batter and a catcher during a baseball game."),
             [("What sport is this?", "baseball", "other"), ("What color is the catcher's shirt?", "blue", "other"),
              ("Is the batter swinging?", "yes", "yes/no")]),
    197388: (("Three people cross country skiing in the snow.", "Skiers racing on a snowy trail."),
             [("How many skiers are there?", "3", "number"), ("What are they doing?", "skiing", "other"),
              ("Is it snowing?", "yes", "yes/no")]),
    570688: (("Many kites flying over a crowded beach.", "People on a beach with kites in the blue sky."),
             [("What is in the sky?", "kites", "other"), ("Is the sky blue?", "yes", "yes/no"),
              ("Where are the people?", "beach", "other")]),
    458752: (("A baseball pitcher throwing a ball on a field.", "A pitcher in an orange shirt seen through a net."),
             []),  # the real questions of vqa-v2-sample
    60623: (("A girl eating food from a spoon.", "A young woman eating at a table with a candle."),
            [("What is the girl holding?", "spoon", "other"), ("Is there a candle?", "yes", "yes/no"),
             ("How many people are there?", "2", "number")]),
    165547: (("A dining room with a wooden table and large windows.", "A table with flowers in a room with windows."),
             [("What is on the table?", "flowers", "other"), ("Are there windows?", "yes", "yes/no"),
              ("How many chairs are there?", "2", "number")]),
    262148: (("A skateboarder jumping over a picnic table.", "A man doing a skateboard trick in front of a crowd."),
             [("Where is he looking?", "down", "other"), ("What is he on top of?", "picnic table", "other"),
              ("Is he wearing a hat?", "yes", "yes/no")]),  # the first two: real VQA v2 val pairs
    393225: (("A bowl of noodle soup with carrots and shrimp.", "A bowl of soup next to chopsticks on a mat."),
             [("Is this a creamy soup?", "no", "yes/no"), ("What is next to the bowl?", "chopsticks", "other"),
              ("How many bowls are there?", "1", "number")]),  # the first: a real VQA v2 val pair
    562207: (("Two people standing next to an elephant by a river.", "An elephant with people on a river bank."),
             [("What animal is this?", "elephant", "other"), ("How many elephants are there?", "1", "number"),
              ("Is there water?", "yes", "yes/no")]),
    579664: (("Bunches of bananas on a table at a market.", "Many yellow and green bananas for sale."),
             [("What fruit is this?", "bananas", "other"), ("Are the bananas yellow?", "yes", "yes/no"),
              ("What color are the bananas?", "yellow", "other")]),
}
TRAIN = (785, 14439, 39769, 40083, 87038, 196141, 197388, 570688, 458752)
VAL = (60623, 165547, 262148, 393225)
TEST_DEV = (562207, 579664)  # questions only, as the test-dev2015 file
QUESTION_TYPES = ("what color is the", "what color are the", "what is the", "what is this", "what sport is",
                  "what animal is", "what are", "how many", "is there a", "is this", "is the", "is it", "is he",
                  "are the", "are there", "where is", "where are the", "what", "is", "are")


def photo_files(coco_real: Path) -> dict[int, Path]:
    from vqadesk.data.coco import CocoIndex

    index = CocoIndex.from_folder(coco_real)
    return {image_id: index.find_image_path(image_id) for image_id in index.image_ids}


def write_real_root(root: Path, coco_real: Path, vqa_sample: Path) -> Path:
    """COCO 2014 + VQA v2 layout (annotations/ and vqa/), without image folders:
    the photos stay in ``coco_real`` and reach training through a feature store."""
    files = photo_files(coco_real)
    (root / "annotations").mkdir(parents=True)
    (root / "vqa").mkdir()
    real_questions = json.loads((vqa_sample / "questions_train2014_sample.json").read_text())
    header = {k: v for k, v in real_questions.items() if k != "questions"}
    real_answers = json.loads((vqa_sample / "annotations_train2014_sample_trimmed.json").read_text())
    real_human = {a["question_id"]: a["answers"] for a in real_answers["annotations"]}
    for split, ids in (("train2014", TRAIN), ("val2014", VAL)):
        write_captions(root / "annotations" / f"captions_{split}.json", files, ids, split)
        questions, annotations = [], []
        for image_id in ids:
            for q in _questions(image_id, real_questions, real_human):
                questions.append({"image_id": image_id, "question": q["question"], "question_id": q["question_id"]})
                annotations.append({k: v for k, v in q.items() if k != "question"})
        write_json(root / "vqa" / f"v2_OpenEnded_mscoco_{split}_questions.json",
                   {**header, "data_subtype": split, "questions": questions})
        write_json(root / "vqa" / f"v2_mscoco_{split}_annotations.json",
                   {"info": header["info"], "license": header["license"], "data_subtype": split,
                    "data_type": "mscoco", "annotations": annotations})
    test_questions = [{"image_id": image_id, "question": q, "question_id": image_id * 1000 + k}
                      for image_id in TEST_DEV for k, (q, _, _) in enumerate(PHOTOS[image_id][1])]
    write_json(root / "vqa" / "v2_OpenEnded_mscoco_test-dev2015_questions.json",
               {**header, "data_subtype": "test-dev2015", "questions": test_questions})
    return root


def write_captions(path: Path, files: dict[int, Path], ids, split: str) -> None:
    images, annotations = [], []
    for image_id in ids:
        width, height = Image.open(files[image_id]).size
        images.append({"license": 3, "file_name": files[image_id].name,
                       "coco_url": f"http://images.cocodataset.org/{split}/{files[image_id].name}",
                       "height": height, "width": width, "date_captured": "2013-11-14 16:28:13",
                       "flickr_url": "", "id": image_id})
        for k, caption in enumerate(PHOTOS[image_id][0]):
            annotations.append({"image_id": image_id, "id": image_id * 10 + k, "caption": caption})
    write_json(path, {"info": {"description": "COCO 2014 Dataset", "version": "1.0", "year": 2014},
                      "images": images, "licenses": [{"url": "", "id": 3, "name": "test"}],
                      "annotations": annotations})


def write_json(path: Path, document) -> None:
    path.write_text(json.dumps(document))


def _questions(image_id: int, real_questions: dict, real_human: dict) -> list[dict]:
    if image_id == 458752:  # the real questions with their real human answers
        records = []
        for q in real_questions["questions"]:
            humans = real_human[q["question_id"]]
            best = max({h["answer"] for h in humans}, key=lambda a: sum(h["answer"] == a for h in humans))
            records.append({"question_id": q["question_id"], "image_id": image_id, "question": q["question"],
                            "question_type": _question_type(q["question"]), "answer_type": "other",
                            "multiple_choice_answer": best, "answers": humans})
        return records
    return [
        {"question_id": image_id * 1000 + k, "image_id": image_id, "question": question,
         "question_type": _question_type(question), "answer_type": answer_type,
         "multiple_choice_answer": answer, "answers": _human_answers(answer, answer_type)}
        for k, (question, answer, answer_type) in enumerate(PHOTOS[image_id][1])
    ]


def _human_answers(answer: str, answer_type: str) -> list[dict]:
    """Ten answers as people give them: mostly the answer, spelt differently, and one dissent."""
    if answer_type == "yes/no":
        other = "no" if answer == "yes" else "yes"
    elif answer_type == "number":
        other = str(int(answer) + 1)
    else:
        other = "i don't know"
    texts = [answer] * 6 + [answer.capitalize(), f"{answer}.", f"the {answer}" if answer_type == "other" else answer,
                            other]
    confidences = ["yes"] * 8 + ["maybe", "no"]
    return [{"answer": t, "answer_confidence": c, "answer_id": i + 1}
            for i, (t, c) in enumerate(zip(texts, confidences))]


def _question_type(question: str) -> str:
    text = question.lower()
    return next(t for t in QUESTION_TYPES if text.startswith(t + " ") or text.startswith(t + "?"))

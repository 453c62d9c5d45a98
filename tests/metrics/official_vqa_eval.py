"""The official VQA evaluation (GT-Vision-Lab/VQA), transcribed as a test oracle.

Source: https://github.com/GT-Vision-Lab/VQA, ``PythonEvaluationTools/vqaEvaluation/vqaEval.py``
(class ``VQAEval``) and, for the in-memory ``VQA`` stand-in, ``PythonHelperTools/vqaTools/vqa.py``.
Two revisions of ``vqaEval.py`` are transcribed; ``VQAEval(..., version=...)`` picks one:

``CURRENT`` (commit a013f0043c1e2cdc995922dfe257f7149aa9af06, the current official code, which
    vqadesk's docs date 2021-03-11): human answers and prediction are cleaned (newlines, tabs,
    strip); only when the human answers disagree do both get ``processPunctuation`` and
    ``processDigitArticle``. vqadesk's ``"official"`` rules.
``LEGACY`` (commit c4e6a0e4e84b9702d99800d3393652d92b5df224, the earlier Python 3 revision):
    the prediction is cleaned and fully normalised; the human answers get only
    ``processPunctuation``, only when they disagree, and are never cleaned. vqadesk's
    ``"legacy"`` rules.

The two differ only in the first lines of the per-question loop (marked below); tables,
``processPunctuation``, ``processDigitArticle``, leave-one-out scoring and the rounded reports are
identical. (An even older revision, 07aecec5, had another punctuation list, curly-quote
contractions and per-type averages of the *last* leave-one-out score; neither rule set copies it.)

What was changed, and nothing else:

- File I/O stripped: ``VQA`` takes the already-loaded ``annotations`` and ``questions`` lists
  (the files' ``"annotations"`` / ``"questions"`` entries) instead of file names, and ``loadRes``
  takes the results list (``[{"question_id", "answer"}]``) instead of a file. Both deep-copy their
  input, because ``evaluate`` overwrites ``ansDic['answer']`` in place (as the official code does
  to its own freshly loaded copy). Left out as unused by the evaluation: ``getQuesIds``'s filters,
  the Multiple Choice check and file headers in ``loadRes``, ``getImgIds``/``loadQA``/``showQA``,
  and all console output (``print``, ``updateProgress`` and its ``step`` counter).
- Python 3: regex literals are raw strings (same patterns, no invalid-escape warnings);
  ``re.UNICODE`` is passed to ``periodStrip.sub`` as ``count=`` by keyword (the official code
  passes it positionally, where it *is* the count, 32; Python 3.13 deprecates the positional
  form). Under Python 3, ``\\d`` matches any Unicode digit and ``round`` sends exact binary ties
  to even; the Python 2 revision matched ASCII digits only and rounded ties away from zero.
- Layout and lint only: 4-space indents, long table lines wrapped; comparisons with ``None`` and
  ``type(anns) == list`` written with ``is`` (the same result for these values).
- Added for testing: ``self.unroundedQA[quesId]``, the per-question accuracy before rounding.
"""

import copy
import re

CURRENT = "a013f0043c1e2cdc995922dfe257f7149aa9af06"
LEGACY = "c4e6a0e4e84b9702d99800d3393652d92b5df224"
VERSIONS = (CURRENT, LEGACY)


class VQA:
    """In-memory stand-in for ``vqaTools.vqa.VQA``: the index and ``loadRes``, without files."""

    def __init__(self, annotations=None, questions=None):
        self.dataset = {}
        self.questions = {}
        self.qa = {}
        self.qqa = {}
        self.imgToQA = {}
        if annotations is not None and questions is not None:
            self.dataset = {'annotations': copy.deepcopy(annotations)}  # was json.load(annotation_file)
            self.questions = {'questions': copy.deepcopy(questions)}  # was json.load(question_file)
            self.createIndex()

    def createIndex(self):
        imgToQA = {ann['image_id']: [] for ann in self.dataset['annotations']}
        qa = {ann['question_id']: [] for ann in self.dataset['annotations']}
        qqa = {ann['question_id']: [] for ann in self.dataset['annotations']}
        for ann in self.dataset['annotations']:
            imgToQA[ann['image_id']] += [ann]
            qa[ann['question_id']] = ann
        for ques in self.questions['questions']:
            qqa[ques['question_id']] = ques
        self.qa = qa
        self.qqa = qqa
        self.imgToQA = imgToQA

    def getQuesIds(self):
        # The official filters (imgIds, quesTypes, ansTypes) are left out: evaluation never uses them.
        anns = self.dataset['annotations']
        ids = [ann['question_id'] for ann in anns]
        return ids

    def loadRes(self, anns):
        # Open-Ended only: the Multiple Choice check and the copied file headers are left out.
        res = VQA()
        res.questions = copy.deepcopy(self.questions)  # was json.load(open(quesFile))
        anns = copy.deepcopy(anns)  # was json.load(open(resFile))
        assert type(anns) is list, 'results is not an array of objects'
        annsQuesIds = [ann['question_id'] for ann in anns]
        assert set(annsQuesIds) == set(self.getQuesIds()), \
            'Results do not correspond to current VQA set. Either the results do not have predictions ' \
            'for all question ids in annotation file or there is atleast one question id that does not ' \
            'belong to the question ids in the annotation file.'
        for ann in anns:
            quesId = ann['question_id']
            qaAnn = self.qa[quesId]
            ann['image_id'] = qaAnn['image_id']
            ann['question_type'] = qaAnn['question_type']
            ann['answer_type'] = qaAnn['answer_type']
        res.dataset['annotations'] = anns
        res.createIndex()
        return res


class VQAEval:
    def __init__(self, vqa, vqaRes, n=2, version=CURRENT):
        assert version in VERSIONS, version
        self.version = version
        self.n = n
        self.accuracy = {}
        self.evalQA = {}
        self.evalQuesType = {}
        self.evalAnsType = {}
        self.unroundedQA = {}
        self.vqa = vqa
        self.vqaRes = vqaRes
        self.params = {'question_id': vqa.getQuesIds()}
        self.contractions = {
            "aint": "ain't", "arent": "aren't", "cant": "can't", "couldve": "could've", "couldnt": "couldn't",
            "couldn'tve": "couldn't've", "couldnt've": "couldn't've", "didnt": "didn't", "doesnt": "doesn't",
            "dont": "don't", "hadnt": "hadn't",
            "hadnt've": "hadn't've", "hadn'tve": "hadn't've", "hasnt": "hasn't", "havent": "haven't",
            "hed": "he'd", "hed've": "he'd've",
            "he'dve": "he'd've", "hes": "he's", "howd": "how'd", "howll": "how'll", "hows": "how's",
            "Id've": "I'd've", "I'dve": "I'd've",
            "Im": "I'm", "Ive": "I've", "isnt": "isn't", "itd": "it'd", "itd've": "it'd've",
            "it'dve": "it'd've", "itll": "it'll", "let's": "let's",
            "maam": "ma'am", "mightnt": "mightn't", "mightnt've": "mightn't've", "mightn'tve": "mightn't've",
            "mightve": "might've",
            "mustnt": "mustn't", "mustve": "must've", "neednt": "needn't", "notve": "not've",
            "oclock": "o'clock", "oughtnt": "oughtn't",
            "ow's'at": "'ow's'at", "'ows'at": "'ow's'at", "'ow'sat": "'ow's'at", "shant": "shan't",
            "shed've": "she'd've", "she'dve": "she'd've",
            "she's": "she's", "shouldve": "should've", "shouldnt": "shouldn't", "shouldnt've": "shouldn't've",
            "shouldn'tve": "shouldn't've",
            "somebody'd": "somebodyd", "somebodyd've": "somebody'd've", "somebody'dve": "somebody'd've",
            "somebodyll": "somebody'll",
            "somebodys": "somebody's", "someoned": "someone'd", "someoned've": "someone'd've",
            "someone'dve": "someone'd've",
            "someonell": "someone'll", "someones": "someone's", "somethingd": "something'd",
            "somethingd've": "something'd've",
            "something'dve": "something'd've", "somethingll": "something'll", "thats": "that's",
            "thered": "there'd", "thered've": "there'd've",
            "there'dve": "there'd've", "therere": "there're", "theres": "there's", "theyd": "they'd",
            "theyd've": "they'd've",
            "they'dve": "they'd've", "theyll": "they'll", "theyre": "they're", "theyve": "they've",
            "twas": "'twas", "wasnt": "wasn't",
            "wed've": "we'd've", "we'dve": "we'd've", "weve": "we've", "werent": "weren't",
            "whatll": "what'll", "whatre": "what're",
            "whats": "what's", "whatve": "what've", "whens": "when's", "whered": "where'd",
            "wheres": "where's", "whereve": "where've",
            "whod": "who'd", "whod've": "who'd've", "who'dve": "who'd've", "wholl": "who'll", "whos": "who's",
            "whove": "who've", "whyll": "why'll",
            "whyre": "why're", "whys": "why's", "wont": "won't", "wouldve": "would've", "wouldnt": "wouldn't",
            "wouldnt've": "wouldn't've",
            "wouldn'tve": "wouldn't've", "yall": "y'all", "yall'll": "y'all'll", "y'allll": "y'all'll",
            "yall'd've": "y'all'd've",
            "y'alld've": "y'all'd've", "y'all'dve": "y'all'd've", "youd": "you'd", "youd've": "you'd've",
            "you'dve": "you'd've",
            "youll": "you'll", "youre": "you're", "youve": "you've"}
        self.manualMap = {'none': '0',
                          'zero': '0',
                          'one': '1',
                          'two': '2',
                          'three': '3',
                          'four': '4',
                          'five': '5',
                          'six': '6',
                          'seven': '7',
                          'eight': '8',
                          'nine': '9',
                          'ten': '10'
                          }
        self.articles = ['a',
                         'an',
                         'the'
                         ]

        self.periodStrip = re.compile(r"(?!<=\d)(\.)(?!\d)")
        self.commaStrip = re.compile(r"(\d)(\,)(\d)")
        self.punct = [';', r"/", '[', ']', '"', '{', '}',
                      '(', ')', '=', '+', '\\', '_', '-',
                      '>', '<', '@', '`', ',', '?', '!']

    def evaluate(self, quesIds=None):
        if quesIds is None:
            quesIds = [quesId for quesId in self.params['question_id']]
        gts = {}
        res = {}
        for quesId in quesIds:
            gts[quesId] = self.vqa.qa[quesId]
            res[quesId] = self.vqaRes.qa[quesId]

        # =================================================
        # Compute accuracy
        # =================================================
        accQA = []
        accQuesType = {}
        accAnsType = {}
        for quesId in quesIds:
            if self.version == CURRENT:
                # -- a013f00: clean everything; normalise everything only if the humans disagree --
                for ansDic in gts[quesId]['answers']:
                    ansDic['answer'] = ansDic['answer'].replace('\n', ' ')
                    ansDic['answer'] = ansDic['answer'].replace('\t', ' ')
                    ansDic['answer'] = ansDic['answer'].strip()
                resAns = res[quesId]['answer']
                resAns = resAns.replace('\n', ' ')
                resAns = resAns.replace('\t', ' ')
                resAns = resAns.strip()
                gtAcc = []
                gtAnswers = [ans['answer'] for ans in gts[quesId]['answers']]

                if len(set(gtAnswers)) > 1:
                    for ansDic in gts[quesId]['answers']:
                        ansDic['answer'] = self.processPunctuation(ansDic['answer'])
                        ansDic['answer'] = self.processDigitArticle(ansDic['answer'])
                    resAns = self.processPunctuation(resAns)
                    resAns = self.processDigitArticle(resAns)
            else:
                # -- c4e6a0e: prediction always normalised; humans only punctuated, if they disagree --
                resAns = res[quesId]['answer']
                resAns = resAns.replace('\n', ' ')
                resAns = resAns.replace('\t', ' ')
                resAns = resAns.strip()
                resAns = self.processPunctuation(resAns)
                resAns = self.processDigitArticle(resAns)
                gtAcc = []
                gtAnswers = [ans['answer'] for ans in gts[quesId]['answers']]
                if len(set(gtAnswers)) > 1:
                    for ansDic in gts[quesId]['answers']:
                        ansDic['answer'] = self.processPunctuation(ansDic['answer'])
            # -- from here on both revisions are identical --

            for gtAnsDatum in gts[quesId]['answers']:
                otherGTAns = [item for item in gts[quesId]['answers'] if item != gtAnsDatum]
                matchingAns = [item for item in otherGTAns if item['answer'] == resAns]
                acc = min(1, float(len(matchingAns)) / 3)
                gtAcc.append(acc)
            quesType = gts[quesId]['question_type']
            ansType = gts[quesId]['answer_type']
            avgGTAcc = float(sum(gtAcc)) / len(gtAcc)
            self.unroundedQA[quesId] = avgGTAcc  # added for testing
            accQA.append(avgGTAcc)
            if quesType not in accQuesType:
                accQuesType[quesType] = []
            accQuesType[quesType].append(avgGTAcc)
            if ansType not in accAnsType:
                accAnsType[ansType] = []
            accAnsType[ansType].append(avgGTAcc)
            self.setEvalQA(quesId, avgGTAcc)
            self.setEvalQuesType(quesId, quesType, avgGTAcc)
            self.setEvalAnsType(quesId, ansType, avgGTAcc)

        self.setAccuracy(accQA, accQuesType, accAnsType)

    def processPunctuation(self, inText):
        outText = inText
        for p in self.punct:
            if (p + ' ' in inText or ' ' + p in inText) or (re.search(self.commaStrip, inText) is not None):
                outText = outText.replace(p, '')
            else:
                outText = outText.replace(p, ' ')
        outText = self.periodStrip.sub("",
                                       outText,
                                       count=re.UNICODE)  # the official code's count: 32
        return outText

    def processDigitArticle(self, inText):
        outText = []
        tempText = inText.lower().split()
        for word in tempText:
            word = self.manualMap.setdefault(word, word)
            if word not in self.articles:
                outText.append(word)
            else:
                pass
        for wordId, word in enumerate(outText):
            if word in self.contractions:
                outText[wordId] = self.contractions[word]
        outText = ' '.join(outText)
        return outText

    def setAccuracy(self, accQA, accQuesType, accAnsType):
        self.accuracy['overall'] = round(100 * float(sum(accQA)) / len(accQA), self.n)
        self.accuracy['perQuestionType'] = {
            quesType: round(100 * float(sum(accQuesType[quesType])) / len(accQuesType[quesType]), self.n)
            for quesType in accQuesType}
        self.accuracy['perAnswerType'] = {
            ansType: round(100 * float(sum(accAnsType[ansType])) / len(accAnsType[ansType]), self.n)
            for ansType in accAnsType}

    def setEvalQA(self, quesId, acc):
        self.evalQA[quesId] = round(100 * acc, self.n)

    def setEvalQuesType(self, quesId, quesType, acc):
        if quesType not in self.evalQuesType:
            self.evalQuesType[quesType] = {}
        self.evalQuesType[quesType][quesId] = round(100 * acc, self.n)

    def setEvalAnsType(self, quesId, ansType, acc):
        if ansType not in self.evalAnsType:
            self.evalAnsType[ansType] = {}
        self.evalAnsType[ansType][quesId] = round(100 * acc, self.n)

import time, random
from wordfreq import top_n_list
from visionguard.gallery import Brand
from visionguard.text import BrandCatalog, TextMatcher, known_brand_names
names=list(dict.fromkeys(known_brand_names()))
cat=BrandCatalog([Brand(f"b{i}", n) for i,n in enumerate(names)], other_brands=[])
m=TextMatcher(cat); m.match_text("x")
words=top_n_list('en',20000)
t=time.perf_counter()
for w in words: m.match_text(w)
print("common cold us", (time.perf_counter()-t)/len(words)*1e6)
t=time.perf_counter()
for w in words: m.match_text(w)
print("hit us", (time.perf_counter()-t)/len(words)*1e6)
rare=[w+"q" for w in words[:3000]]
t=time.perf_counter()
for w in rare: m._closest(w, w)
print("closest nonmatch us", (time.perf_counter()-t)/len(rare)*1e6)
import visionguard.text.matcher as M
t=time.perf_counter()
for w in rare: m.catalog.candidates(w)
print("candidates us", (time.perf_counter()-t)/len(rare)*1e6)

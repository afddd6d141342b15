"""Captures of the page kinds intake must read, written for the tests (not real pages).

Each is the shape of a kind of page found on the web: a council news listing, a blog
archive, a wire story, an aggregator, a reblog, a forum post; none is copied from one.
"""

LISTING = """\
Skip to main content

News

Council opens three new family hubs in the north of the borough

12th March 2024

The hubs bring health visitors, early help workers and housing advice under one roof, and are open six days a week… Read more »

Foster carers to get a rise in allowances from April

4th March 2024

Carers will receive an extra eight per cent from the start of the financial year, the cabinet agreed on Tuesday… Read more »

Youth service wins national award for detached work

28th February 2024

The team was praised for reaching young people in parks and car parks late into the evening… Read more »
"""

BLOG_ARCHIVE = """\
Notes from the Duty Desk

Reflections on front line practice, one week at a time.

Friday, 8 November 2019

Why we stopped holding Friday strategy meetings

Nothing good happens at half past four on a Friday. We moved the meetings to Tuesday mornings and the attendance doubled.

Tuesday, 5 November 2019

We had a visit from the inspectors this week. I will write it up properly when the report is out, but the short version is that they liked our supervision records.
"""

SHARED_HEADING = """\
Press releases for Wednesday, June 5, 2024

Library extends opening hours over the summer

The central library will stay open until 8pm on weekdays from July.

Road closure for resurfacing on Mill Lane

Mill Lane will close to through traffic for three nights next week.

New recycling collections begin in the east ward

Food waste caddies will be collected every week from the start of next month.
"""

NEWS_ARTICLE = """\
Your browser is out of date. Update your browser for the best experience.

Social Care

Agency staff costs fall for the first time in a decade

Practice Tue, 14 Mar 2023 10:05

By Priya Raman | Senior reporter

Spending on agency social workers has fallen across most councils, new figures show.

Councils spent less on agency social workers last year than in any year since 2013, according to figures published by the Department for Education on Tuesday.

Directors said recruitment campaigns and new pay scales had helped them keep permanent staff.

Related articles

Recruitment drive brings in 40 new social workers

By Tom Ellis | 2 March 2023

The council has filled most of its vacant posts in children's services.
"""

TRAPS_ONLY = """\
Summer play schemes for children with additional needs

Play schemes run every weekday from Monday 22 July to Friday 30 August at three sites across the city.

Places are free for families who receive disability living allowance for their child.

Last updated: 2023-05-02

© 2023 Northgate City Council
"""

REBLOG = """\
Why caseloads matter

This is well worth a read for anyone who manages a team.

Practice Matters Blog

Caseloads are back in the news, and for good reason. When a social worker holds thirty children there is no time left for the work that changes things.

View original post 412 more words

Leave a Reply
"""

WIRE = """\
Budget gap forces county to close two care homes

LANCASTER, Pa. (AP) — A county in Pennsylvania will close two of its care homes by the end of the year after a budget shortfall, officials said Thursday.

The homes care for about 90 residents.
"""

AGGREGATOR = """\
Latest stories

Councils warn of £4bn gap in children's services funding

Local authorities say demand for placements has outstripped their budgets for a third year in a row…

© 2024 Example Public Finance. All rights reserved.

New guidance on kinship care published

The guidance sets out what support relatives can expect when they take on a child's care…

© 2024 Example Care News. All rights reserved.
"""

SUFFIX_TITLE = """\
Inspectors praise council's work with care leavers | Northgate Herald

Inspectors have praised the support a council gives to young people leaving care, saying it is among the best they have seen.

The report found that every care leaver had a personal adviser.
"""

STANDFIRST_AND_CAPTION = """\
What a good supervision session looks like

A practice educator sets out five habits that make supervision worth the time

What a good supervision session looks like

Photo by Alex Example / Unsplash

Supervision is the one hour in the week when a social worker gets to think out loud. It is too often spent on case management alone.
"""

FORUM = """\
(3 Posts)

kinshipcarer_22

Sat 04-Mar-23 21:15:09

Does anyone know whether a special guardianship allowance is means tested? Our council will not give us a straight answer.
"""

TITLE_BY_HANDLE = """\
A day in the life of a duty social worker by @dutydesknotes

Originally published: 17.05.19

The phone starts ringing at nine and does not stop until six.
"""

DATES_AFTER_TEASERS = """\
Bats navigate by the smell of the river
A study of fruit bats found they follow scent trails laid by water over several kilometres. (2021-03-18)

Coral spawning timed by the moon's light
Researchers filmed reefs for three years and matched every spawning night to the lunar calendar. (2021-03-02)

Glaciers retreat faster where dust settles
Dark dust from nearby deserts speeds the melting of mountain glaciers, satellite images show. (2021-02-21)
"""

DATE_OPENS_THE_TEASER = """\
Charity calls for more family hubs

14 May 2021. The charity said every council should open a family hub by next spring.

Winter appeal raises record sum

2 February 2021. Supporters gave more than ever before to the winter appeal.
"""

UNTITLED_NOTICE = """\
Latest News

The next council meeting is on Tuesday 4th June at 7pm in the village hall.

New benches have been installed on the green, paid for by the community fund.

Published: Friday, 17th May 2024
"""

META_FIELDS = """\
Keeping secrets out of your shell history

March 11, 2026 · 6 min · 1402 words · Dana Whitfield

Every command you type is written to a file, and sometimes that file holds a password.
"""

FORUM_THREAD_POST = """\
Joined: Mon Jan 06, 2020 9:40 am

Post by parentvoice22 »

Has anyone been to a family group conference? We have one next week and I do not know what to expect.
"""

BYLINE_UNDER_TEXT = """\
Club secures new sponsor for the junior section

The junior section will have new kit next season thanks to a local bakery that has signed a three year deal.

Training restarts in April on Saturday mornings.

By Alan Greaves

Click on an image to enlarge it.
"""

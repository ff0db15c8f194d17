/** The example site's articles: a headline, a teaser everyone reads, and the rest, for subscribers. */
export interface Article {
  slug: string;
  headline: string;
  teaser: string;
  body: string[];
}

export const ARTICLES: readonly Article[] = [
  {
    slug: 'harbour-lights',
    headline: 'The harbour that keeps its lights on by hand',
    teaser:
      'Every evening at dusk, three volunteers walk the length of the old breakwater and light eleven lamps that the port authority stopped paying for in 1998.',
    body: [
      'They started because a fishing boat came in late one winter and missed the channel. Nobody was hurt, but the skipper bought the first can of paraffin himself and left it on the harbourmaster’s step with a note.',
      'Twenty-six years later the rota has forty names on it. The lamps have been rewired twice, the paraffin is long gone, and the oldest volunteer still carries a torch "in case the electricity has opinions".',
      'The council now lists the lights as a heritage asset. The volunteers would rather it listed them as a navigation aid, and paid for the bulbs.',
    ],
  },
  {
    slug: 'night-bus-library',
    headline: 'A library that only opens on the night bus',
    teaser:
      'Between midnight and five, route N29 carries a crate of paperbacks under the back seat. Borrow one, bring it back any night, no card needed.',
    body: [
      'The crate belongs to a driver who got tired of passengers staring at dead phones. She stocked it from charity shops; passengers now stock it for her.',
      'Losses run at about one book a week, which she counts as a success. "If somebody needs a book that badly at 3 a.m., they can keep it."',
      'The bus company has asked her not to expand to the N38. She has already expanded to the N38.',
    ],
  },
  {
    slug: 'seed-vault-allotment',
    headline: 'The allotment with a seed vault in the shed',
    teaser:
      'Behind plot 14 is a shed with a chest freezer holding 612 varieties of vegetable seed, some of them grown nowhere else in the county.',
    body: [
      'The collection began with a retired teacher’s runner beans, saved every autumn since 1971. When she gave up her plot, the other allotment holders inherited the beans and the habit.',
      'Each variety is grown out every five years so the seed stays viable. That means a rota, a spreadsheet, and an annual argument about who has to grow the bitter winter kale.',
      'A university seed bank has offered to take the collection. The allotment said no, but agreed to send duplicates, "as long as they come back to visit".',
    ],
  },
];

export const articleBySlug = (slug: string) => ARTICLES.find((article) => article.slug === slug);

/**
 * A section of the site sold as its own product: its articles are gated on one feature
 * (`requireEntitlement({ feature })`), so a reader may read one section and not the other.
 */
export interface Section {
  /** The subgate feature that opens it (e.g. 'news'). */
  feature: string;
  /** What readers call it ("News"): in the nav and on its paywall ("Subscribe to News"). */
  name: string;
  /** URL segment: /news/:slug */
  path: string;
  articles: readonly Article[];
}

export const PUZZLES: readonly Article[] = [
  {
    slug: 'harbour-crossword',
    headline: 'Saturday crossword: Harbour lights',
    teaser: 'Fifteen clues, all of them about things that float, glow or leak. The first one is free: 1 across, "Kept on by hand (5)".',
    body: [
      '1 across: LAMPS. 4 across: "Where the N29 keeps its books (5,4)". 7 down: "Frozen, but not forgotten (4,5)".',
      'Answers next Saturday, with the names of everyone who sent in a full grid.',
    ],
  },
];

/** The example site's two sections: the stories (News) and the puzzles (Puzzles). */
export const SECTIONS: readonly Section[] = [
  { feature: 'news', name: 'News', path: 'news', articles: ARTICLES },
  { feature: 'puzzles', name: 'Puzzles', path: 'puzzles', articles: PUZZLES },
];
